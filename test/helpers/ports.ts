// One freePort for the tests and the bench.
export { freePort } from '../../bench/src/local-servers.js';
