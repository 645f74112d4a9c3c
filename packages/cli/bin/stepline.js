#!/usr/bin/env node
// The CLI is TypeScript run in place: tsx compiles each module on first load and caches it.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
