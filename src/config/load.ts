/** Reads a configuration file: YAML for .yaml/.yml, the classic syntax otherwise. */
import fs from 'node:fs';
import { parseClassic } from './classic.js';
import { ConfigError, type ConfigModel } from './model.js';
import { parseYaml } from './yaml.js';

export function loadConfig(file: string): ConfigModel {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new ConfigError(`cannot read configuration ${file}: ${why}`);
  }
  return /\.ya?ml$/i.test(file) ? parseYaml(text, file) : parseClassic(text, file);
}
