import type { Command } from './args.ts';
export const evalCommand: Command = {
  name: 'eval',
  summary: 'todo',
  usage: '',
  help: '',
  options: {},
  async run() {
    return 1;
  },
};
