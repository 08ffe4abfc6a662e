// Runs one interop test file with node:test, after checking what it needs. Missing npm packages
// or a binary without the server are errors, never skips (`make test` installs the packages
// through scripts/test-setup.sh).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2];
if (!fs.existsSync(path.join(here, 'node_modules'))) {
  console.error('tests/interop/node_modules is missing: run `bash scripts/test-setup.sh` first');
  process.exit(1);
}
const bin = process.env.SAWMILL_BIN;
const help = spawnSync(bin, ['server', '--help'], { encoding: 'utf8' });
if (help.status !== 0 && !`${help.stdout}${help.stderr}`.includes('--data')) {
  console.error(`${bin} has no working server subcommand:\n${help.stdout}${help.stderr}`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', path.join(here, file)],
  { stdio: 'inherit', cwd: here });
process.exit(result.status ?? 1);
