// A certified OpenID provider (panva's oidc-provider) for the sign-in tests, on 127.0.0.1.
// Usage: node tests/support/oidc_provider.mjs PORT REDIRECT_URI
// One test client, two test accounts (verified emails: one the tests allow, one not),
// and the library's own development login and consent pages.
import Provider from 'oidc-provider';

const [port, redirectUri] = process.argv.slice(2);
const issuer = `http://127.0.0.1:${port}`;

export const ACCOUNTS = {
  allowed: { sub: 'allowed', email: 'allowed@example.test', email_verified: true },
  outsider: { sub: 'outsider', email: 'outsider@elsewhere.test', email_verified: true },
};

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'test-client',
      client_secret: 'test-client-secret-not-real',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    },
  ],
  claims: { openid: ['sub'], email: ['email', 'email_verified'] },
  pkce: { required: () => true },
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['test-cookie-key-not-real'] },
  // Any login name on the dev login page is the account id; only these two exist.
  async findAccount(ctx, id) {
    const account = ACCOUNTS[id];
    if (!account) return undefined;
    return { accountId: id, claims: async () => ({ ...account }) };
  },
});

provider.listen(Number(port), '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});
