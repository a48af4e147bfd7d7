import { createInterface } from 'node:readline';
import { predictAll } from '../model/types.ts';
import { hasVisibleText } from '../model/visible.ts';
import { loadModel } from '../server.ts';
import {
  type Command,
  MODEL_OPTIONS,
  MODEL_OPTIONS_HELP,
  printJson,
  resolveSelectedModel,
  UsageError,
} from './args.ts';

export const predictCommand: Command = {
  name: 'predict',
  summary: 'Classify a text (or each line of stdin with "-") and print the prediction as JSON.',
  usage: 'msg-cls predict TEXT | msg-cls predict - < lines.txt  [--name NAME] [--alias ALIAS | --version N]',
  help: `
  TEXT             the text to classify; "-" reads one text per line from stdin and prints one JSON line
                   per input line ({"error":"empty_text",...} for a blank one, and exit status 1)
${MODEL_OPTIONS_HELP}`,
  options: { ...MODEL_OPTIONS },
  allowPositionals: true,
  async run(values, positionals) {
    if (positionals.length !== 1) {
      throw new UsageError('give exactly one TEXT argument (quote it), or "-" to read lines from stdin');
    }
    const ref = await resolveSelectedModel(values);
    const model = await loadModel(ref);
    const predict = async (text: string) => ({
      ...(await predictAll(model.classifier, [text]))[0],
      model: { name: model.info.name, version: model.info.version },
    });
    if (positionals[0] !== '-') {
      if (!hasVisibleText(positionals[0])) {
        throw new UsageError('TEXT has no visible characters: give a text with something to classify');
      }
      printJson(await predict(positionals[0]));
      return 0;
    }
    // One output line per input line, so that outputs line up with inputs (`paste`, `jq -s`): a blank
    // input line gets an error line in its place, and the exit status says some lines were blank.
    let blank = 0;
    let n = 0;
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY })) {
      n++;
      if (!hasVisibleText(line)) {
        blank++;
        process.stdout.write(
          `${JSON.stringify({ error: 'empty_text', detail: `line ${n} is blank (no visible characters): give one text per line`, line: n })}\n`,
        );
        continue;
      }
      process.stdout.write(`${JSON.stringify(await predict(line))}\n`);
    }
    if (blank > 0) process.stderr.write(`msg-cls predict: ${blank} of ${n} line(s) blank; each got an error line\n`);
    return blank > 0 ? 1 : 0;
  },
};
