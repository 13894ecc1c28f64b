// Lets Node run the TypeScript sources directly: tsx for .ts, then the ?raw hook for shaders.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./raw-loader.js', import.meta.url);
