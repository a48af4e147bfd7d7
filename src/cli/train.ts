import type { Command } from './args.ts';
export const trainCommand: Command = {
  name: 'train',
  summary: 'todo',
  usage: '',
  help: '',
  options: {},
  async run() {
    return 1;
  },
};
