#!/usr/bin/env node
/**
 * The specter command. The one module that sees both sides: it hands the
 * built-in plugins to the core, which imports no plugin itself, and then
 * runs the command line.
 */
import { builtins, builtinSources } from '../plugins/builtins.js';
import { registerBuiltins } from '../src/core/loader.js';

registerBuiltins({ plugins: builtins, sources: builtinSources });
await import('../src/cli.js');
