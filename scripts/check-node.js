// `npm test` (and other npm scripts) run this first: on a Node.js too old for msg-cls it prints what to do
// and fails, instead of Node's ERR_UNKNOWN_FILE_EXTENSION ".ts". Plain JavaScript so that old Node parses it.
import { nodeVersionProblem } from '../bin/runtime.js';

const problem = nodeVersionProblem();
if (problem !== undefined) {
  process.stderr.write(problem);
  process.exit(1);
}
