import { exampleScenario } from '@drip/example-scenario';
import { startExample } from '../src/server';

exampleScenario({
  name: 'example-hono',
  start: startExample,
  failBody: { error: 'internal_error', message: 'The agent crashed (on purpose).' },
});
