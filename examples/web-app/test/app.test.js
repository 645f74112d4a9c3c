import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describe, handle } from '../src/app.js';

test('answers the health check', () => {
  assert.deepEqual(handle({ method: 'GET', url: '/health' }, {}), { status: 200, body: { status: 'ok' } });
});

test('says which version answers', () => {
  assert.deepEqual(handle({ method: 'GET', url: '/' }, { version: '1.2.3', commit: 'abc' }).body, describe({ version: '1.2.3', commit: 'abc' }));
});

test('refuses other methods and unknown paths', () => {
  assert.equal(handle({ method: 'POST', url: '/' }, {}).status, 405);
  assert.equal(handle({ method: 'GET', url: '/nope' }, {}).status, 404);
});
