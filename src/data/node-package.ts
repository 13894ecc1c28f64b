// Node-only: an installed package's folder and version. Found from the package's main entry upwards, since
// not every package exports its package.json (apache-arrow, onnxruntime-web do not).
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

const manifest = (dir: string) => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version: string };

export function packageDir(name: string): string {
  for (let dir = dirname(require.resolve(name)); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && manifest(dir).name === name) return dir;
  }
  throw new Error(`${name}: its package folder was not found`);
}

export function packageVersion(name: string): string {
  return manifest(packageDir(name)).version;
}
