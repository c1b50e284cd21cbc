// A real OAuth 2 authorization server for ihub's SMART Backend Services tests, on 127.0.0.1 only.
//
// The server is `oidc-provider` (OpenID Certified). It is configured for exactly what SMART
// Backend Services uses: the client_credentials grant, with the client authenticating by a
// `private_key_jwt` assertion signed RS384 or ES384 (anything else is refused), and JWT access
// tokens whose `aud` is the FHIR server's base URL and whose `scope` is the granted system/
// scopes. Unknown scopes are dropped from the grant, as oidc-provider does.
//
// Environment:
//   OAUTH_PORT          port to listen on (required; the test picks a free one)
//   OAUTH_AUDIENCE      the FHIR base URL the tokens are for (required)
//   OAUTH_CLIENTS_FILE  JSON: [{"client_id": "...", "keys": [{"kid", "alg", "public_key_pem"}]}]
//   OAUTH_TOKEN_TTL     access token lifetime in seconds (default 300)
// Prints one line `ready <issuer>` on stdout when it listens. Exits when stdin closes.
// Needs Node >= 22 (oidc-provider 9).
import crypto from 'node:crypto';
import fs from 'node:fs';
import Provider from 'oidc-provider';
import * as jose from 'jose';

const PORT = Number(process.env.OAUTH_PORT);
if (!Number.isInteger(PORT) || PORT <= 0) throw new Error('OAUTH_PORT must be a port number');
const AUDIENCE = process.env.OAUTH_AUDIENCE;
if (!AUDIENCE) throw new Error('OAUTH_AUDIENCE (the FHIR base URL) is required');
const TOKEN_TTL = Number(process.env.OAUTH_TOKEN_TTL ?? 300);
const ISSUER = `http://127.0.0.1:${PORT}`;
const ALGORITHMS = ['RS384', 'ES384'];

// Clients come with PEM public keys (what `openssl pkey -pubout` writes); oidc-provider wants a JWKS.
const clients = JSON.parse(fs.readFileSync(process.env.OAUTH_CLIENTS_FILE ?? '', 'utf8')).map((client) => ({
  client_id: client.client_id,
  token_endpoint_auth_method: 'private_key_jwt',
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  jwks: {
    keys: client.keys.map((key) => ({
      ...crypto.createPublicKey(key.public_key_pem).export({ format: 'jwk' }), kid: key.kid, alg: key.alg, use: 'sig',
    })),
  },
}));

// Every system/ scope the tests may ask for: SMART v1 (read, write, *) and v2 (cruds subsets).
const TYPES = ['*', 'Patient', 'Encounter', 'Observation', 'DiagnosticReport', 'Practitioner', 'Organization',
  'Location', 'ServiceRequest', 'Specimen', 'Condition', 'AllergyIntolerance', 'Bundle'];
const PERMISSIONS = ['read', 'write', '*', 'c', 'r', 'u', 'd', 's', 'rs', 'cu', 'cud', 'cruds'];
const SCOPES = TYPES.flatMap((type) => PERMISSIONS.map((p) => `system/${type}.${p}`)).join(' ');

// The server's own token-signing key, new on every start (tokens do not outlive a test run).
const { privateKey } = await jose.generateKeyPair('RS256', { extractable: true });
const signingKey = { ...(await jose.exportJWK(privateKey)), kid: 'oauth-test-rs256', alg: 'RS256', use: 'sig' };

const provider = new Provider(ISSUER, {
  clients,
  jwks: { keys: [signingKey] },
  cookies: { keys: [crypto.randomBytes(16).toString('hex')] },
  clientAuthMethods: ['private_key_jwt'],
  enabledJWA: { clientAuthSigningAlgValues: ALGORITHMS },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // SMART clients send no `resource`: every token is for the one FHIR server.
      defaultResource: () => AUDIENCE,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => {
        if (resource !== AUDIENCE) throw new Provider.errors.InvalidTarget(`unknown resource ${resource}`);
        return { scope: SCOPES, audience: AUDIENCE, accessTokenTTL: TOKEN_TTL, accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } } };
      },
    },
  },
  ttl: { ClientCredentials: TOKEN_TTL },
});
// The reason a request was refused, for the test's stderr (never a token).
provider.on('grant.error', (ctx, err) => console.error(`oauth: refused: ${err.message} ${err.error_description ?? ''}`));
provider.on('server_error', (ctx, err) => console.error('oauth: server error', err));

const server = provider.listen(PORT, '127.0.0.1', () => console.log(`ready ${ISSUER}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { server.close(); process.exit(0); });
