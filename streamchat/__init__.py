"""streamchat: stream OpenAI-compatible chat replies from Flask to the browser as NDJSON."""
