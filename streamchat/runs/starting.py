"""Starting a run: the checks and reservations between a validated request and an open
upstream stream, in the order that keeps a refused request cheap (docs/architecture.md,
"Request lifecycle").

A draining worker refuses first; then a stream place is taken (past
MAX_STREAMS_PER_WORKER a refusal at once, never a queue); then the budgets reserve the
reply's cost and lower its output cap to what is left; only then is the upstream
called. Whatever fails gives back what was taken before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import openai

from ..budgets import Budgets, TextCounts
from ..errors import Refusal
from ..relay.pipeline import RelayLimits
from ..relay.protocols import ChatProtocol, ResponsesProtocol
from ..settings import Settings
from ..state.redis_messages import RedisMessages
from ..upstream.request import ChatRequest, chat_completions_body, responses_body
from ..upstream.streams import CHAT_COMPLETIONS_PATH, RESPONSES_PATH, open_stream
from ..worker.open_streams import OpenStreams
from .finding import Whereabouts, open_reader, stop_run
from .peers import PeerReader, PeerServer, machine_name
from .reader import LocalReader
from .registry import RunRegistry
from .remote import RemoteReader, RemoteServer
from .run import Run, RunParts

# Long enough for a few replies of this worker to finish; short enough to feel like a
# pause. Behind a load balancer the retry may well land on another worker.
BUSY_RETRY_AFTER_SECONDS = 3
# A restarting worker's replacement is usually up within a couple of seconds.
DRAINING_RETRY_AFTER_SECONDS = 2


class ServerBusy(Refusal):
    """Every stream place of this worker is taken."""

    retry_after = BUSY_RETRY_AFTER_SECONDS


class ServerDraining(Refusal):
    """This worker is shutting down and takes no new runs."""

    retry_after = DRAINING_RETRY_AFTER_SECONDS


@dataclass(frozen=True)
class Api:
    """One streaming API: its name, the upstream path, the body it takes, and what its
    stream looks like on the relay's path."""

    name: str
    path: str
    body: Callable[[ChatRequest, Settings], dict]
    protocol: Callable[[], ChatProtocol | ResponsesProtocol]


CHAT = Api("chat", CHAT_COMPLETIONS_PATH, chat_completions_body, ChatProtocol)
RESPONSES = Api("responses", RESPONSES_PATH, responses_body, ResponsesProtocol)


class Runs:
    """Starts this worker's runs; built once per app (streamchat.runtime)."""

    def __init__(
        self,
        settings: Settings,
        client: openai.OpenAI,
        streams: OpenStreams,
        budgets: Budgets | None,
        counts: TextCounts,
        machine_folder: str = "",
        messages: RedisMessages | None = None,
    ) -> None:
        self._settings = settings
        self._client = client
        self._streams = streams
        self._budgets = budgets
        self._counts = counts
        limits = RelayLimits(
            settings.heartbeat_seconds,
            settings.upstream_read_timeout_seconds,
            settings.max_upstream_event_bytes,
        )
        self._parts = RunParts(streams, budgets, limits, settings.runs)
        self.registry = RunRegistry(settings.runs)
        # Runs of the workers that share this folder (its SQLite file) reach each other.
        self.machine = machine_name(machine_folder)
        self._peers = PeerServer(self.registry, self.machine, settings.heartbeat_seconds)
        self._remote = None
        if messages is not None:
            self._remote = RemoteServer(self.registry, messages, settings.heartbeat_seconds)
        self._where = Whereabouts(self.registry, self.machine, messages, settings.heartbeat_seconds)

    def refuse_if_draining(self) -> None:
        """Raise ServerDraining while this worker shuts down: checked before a request's
        body is read, so a restarting worker turns requests away at once."""
        if self._streams.draining:
            raise ServerDraining()

    def new_id(self) -> str:
        """An id for a run about to start (``start``'s ``run_id``), when it must be
        known before the upstream call (a conversation notes its run first)."""
        return self.registry.new_id()

    def start(
        self,
        api: Api,
        chat_request: ChatRequest,
        budget_key: str,
        who: str | None,
        run_id: str | None = None,
    ) -> Run:
        """Admit ``chat_request`` (its budgets counted for ``budget_key``), open its
        upstream stream and start the run for ``who`` (its owner), with its first reader
        attached, under ``run_id`` (from ``new_id``) or a new id. Raises ServerDraining,
        ServerBusy, the budgets' refusals or UpstreamRefused; nothing is held then."""
        self.refuse_if_draining()
        if not self._streams.reserve(self._settings.max_streams_per_worker):
            raise ServerBusy()
        estimated_input = self._counts.input_tokens(chat_request.model, chat_request.messages)
        admission = None
        try:
            if self._budgets is not None:
                admission = self._budgets.admit(
                    budget_key, estimated_input, self._settings.max_output_tokens
                )
                chat_request = replace(chat_request, max_output_tokens=admission.output_cap)
            self._peers.ensure_listening()
            if self._remote is not None:
                self._remote.ensure_listening()
            body = api.body(chat_request, self._settings)
            upstream = open_stream(self._client, api.path, body, chat_request.images)
        except BaseException:
            self._streams.unreserve()
            if admission is not None:
                self._budgets.release(admission)
            raise
        run = Run(
            run_id or self.registry.new_id(),
            who,
            api.name,
            upstream,
            api.protocol(),
            self._parts,
            admission,
            estimated_input,
        )
        run.attach()
        self.registry.add(run)
        self._streams.add(run)
        run.start()
        return run

    def reader(
        self, run_id: str, after: int, who: str | None
    ) -> LocalReader | PeerReader | RemoteReader:
        """A reader of run ``run_id`` of ``who``'s from line ``after`` on, whichever
        worker of this machine owns it. Raises RunNotFound, BadResumePoint or
        TooManyReaders."""
        return open_reader(self._where, run_id, after, who)

    def stop(self, run_id: str, who: str | None) -> None:
        """Stop run ``run_id`` of ``who``'s, whichever worker owns it (RunNotFound)."""
        stop_run(self._where, run_id, who)
