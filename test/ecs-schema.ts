/**
 * Test helper: the Elastic Common Schema field definitions vendored in
 * test/fixtures/ecs/ (ecs_flat.yml of one release), and a check of a JSON
 * event against them: field names, JSON types, patterns, allowed values and
 * required fields. Fields under `specter.` are specter's own custom fields.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './daemon.js';

interface EcsField {
  type: string;
  normalize?: string[];
  pattern?: string;
  required?: boolean;
  allowed_values?: Array<{ name: string; expected_event_types?: string[] }>;
}

const dir = path.join(ROOT, 'test', 'fixtures', 'ecs');
export const ECS_RELEASE = fs.readFileSync(path.join(dir, 'version'), 'utf8').trim();
export const ECS: { readonly [name: string]: EcsField } = parse(fs.readFileSync(path.join(dir, 'ecs_flat.yml'), 'utf8'), { maxAliasCount: -1 });

const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

/** Whether one JSON value fits an ECS type; a reason when it does not. */
function typeError(type: string, v: unknown): string | null {
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
    case 'match_only_text':
    case 'text':
      return typeof v === 'string' ? null : `a string (ECS ${type})`;
    case 'ip':
      return typeof v === 'string' && net.isIP(v) !== 0 ? null : 'an IP address as a string (ECS ip)';
    case 'long':
    case 'integer':
    case 'short':
    case 'byte':
    case 'unsigned_long':
      return Number.isSafeInteger(v) ? null : `an integer (ECS ${type})`;
    case 'float':
    case 'half_float':
    case 'scaled_float':
    case 'double':
      return typeof v === 'number' && Number.isFinite(v) ? null : `a number (ECS ${type})`;
    case 'boolean':
      return typeof v === 'boolean' ? null : 'true or false (ECS boolean)';
    case 'date':
      return typeof v === 'string' && ISO_DATE.test(v) && !Number.isNaN(Date.parse(v)) ? null : 'an ISO 8601 date string (ECS date)';
    default:
      return typeof v === 'object' && v !== null ? null : `an object (ECS ${type})`;
  }
}

/** Every way the event departs from the schema, one line each; empty when it conforms. */
export function ecsViolations(event: { [field: string]: unknown }): string[] {
  const bad: string[] = [];
  for (const [name, value] of Object.entries(event)) {
    if (name.startsWith('specter.')) continue;
    const def = ECS[name];
    if (!def) {
      bad.push(`${name}: not an ECS ${ECS_RELEASE} field`);
      continue;
    }
    const isArray = def.normalize?.includes('array') ?? false;
    if (Array.isArray(value) !== isArray) {
      bad.push(`${name}: ${isArray ? 'must be an array' : 'must not be an array'} (${JSON.stringify(value)})`);
      continue;
    }
    for (const v of isArray ? (value as unknown[]) : [value]) {
      const err = typeError(def.type, v);
      if (err) bad.push(`${name}: ${JSON.stringify(v)} is not ${err}`);
      else if (def.pattern && !new RegExp(def.pattern).test(v as string)) bad.push(`${name}: ${JSON.stringify(v)} does not match ${def.pattern}`);
      else if (def.allowed_values && !def.allowed_values.some((a) => a.name === v)) bad.push(`${name}: ${JSON.stringify(v)} is not an allowed value`);
      else if (v === '') bad.push(`${name}: empty, where ECS leaves an absent value out`);
    }
  }
  for (const [name, def] of Object.entries(ECS)) {
    if (def.required && !(name in event)) bad.push(`${name}: required in every event, missing`);
  }
  // event.type values must be among those the event's categories expect.
  const categories = (event['event.category'] ?? []) as string[];
  const expected = new Set(categories.flatMap((c) => ECS['event.category'].allowed_values?.find((a) => a.name === c)?.expected_event_types ?? []));
  for (const t of (event['event.type'] ?? []) as string[]) {
    if (!expected.has(t)) bad.push(`event.type: "${t}" is not expected for event.category ${JSON.stringify(categories)}`);
  }
  return bad;
}
