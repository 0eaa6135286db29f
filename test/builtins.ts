/**
 * Test helper, imported for its effect: makes the built-in plugins known to
 * the core, as bin/specter.ts does for the daemon.
 */
import { builtins, builtinSources } from '../plugins/builtins.js';
import { registerBuiltins } from '../src/core/loader.js';

registerBuiltins({ plugins: builtins, sources: builtinSources });
