#!/usr/bin/env node
// Writes packages/cli/study.schema.json from the study schema in
// src/bench/study.ts (run after building; a test checks the file is current).
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const { studyJsonSchema } = await import('../dist/bench/study.js');
const file = fileURLToPath(new URL('../study.schema.json', import.meta.url));
writeFileSync(file, `${JSON.stringify(studyJsonSchema(), null, 2)}\n`);
console.log(`wrote ${file}`);
