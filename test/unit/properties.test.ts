// Property-based tests (fast-check) for the two functions every text goes through: the anonymiser
// (logs, stored text) and the featurizer (the model's input). A fixed seed keeps `npm test`
// reproducible; FC_SEED and FC_RUNS explore further (a failure prints the seed and the shrunk case).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { DEFAULT_FEATURIZER, Featurizer } from '../../src/model/featurizer.ts';
import { hasVisibleText } from '../../src/model/visible.ts';
import { anonymize, luhnValid } from '../../src/monitoring/anonymize.ts';

const params = { seed: Number(process.env.FC_SEED ?? 20261201), numRuns: Number(process.env.FC_RUNS ?? 300) };
const check = <Ts>(prop: fc.IRawProperty<Ts>) => fc.assert(prop, params as fc.Parameters<Ts>);

const letters = 'abcdefghijklmnopqrstuvwxyz'.split('');
// Ordinary words; never one that announces personal data ("dob", "born", "ssn"…), which is the point.
const word = fc
  .string({ unit: fc.constantFrom(...letters), minLength: 1, maxLength: 9 })
  .filter((w) => !/^(dob|born|birth|birthday|geb|geboren|ssn|www)$/.test(w));
const int = (min: number, max: number) => fc.integer({ min, max });
const pad2 = (n: number) => String(n).padStart(2, '0');
// What ordinary text is full of and must survive: prices, times, versions, dates, short numbers.
const harmless = fc.oneof(
  word,
  fc.tuple(int(0, 9999), int(0, 99)).map(([a, c]) => `$${a}.${pad2(c)}`),
  fc.tuple(int(1, 999), int(0, 999)).map(([a, b]) => `$${a},${String(b).padStart(3, '0')}`),
  fc.tuple(int(0, 23), int(0, 59)).map(([h, m]) => `${h}:${pad2(m)}`),
  fc.tuple(int(0, 23), int(0, 59), int(0, 59)).map(([h, m, s]) => `${pad2(h)}:${pad2(m)}:${pad2(s)}`),
  fc.tuple(int(0, 30), int(0, 30), int(0, 99)).map(([a, b, c]) => `v${a}.${b}.${c}`),
  fc.tuple(int(1990, 2030), int(1, 12), int(1, 28)).map(([y, m, d]) => `${y}-${pad2(m)}-${pad2(d)}`),
  int(0, 9999).map(String),
  int(0, 100).map((p) => `${p}%`),
);
// Words and harmless tokens alternate, so that two numbers never stand side by side (which can be a phone number).
const ordinaryText = fc
  .array(fc.tuple(word, harmless), { minLength: 1, maxLength: 12 })
  .map((pairs) => pairs.map(([w, t]) => `${w} ${t}`).join(' '));

const digits = (n: number) => fc.array(int(0, 9), { minLength: n, maxLength: n }).map((d) => d.join(''));
function withLuhnDigit(body: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(body + d)) return body + d;
  throw new Error('unreachable');
}
const card = fc
  .tuple(digits(15), fc.constantFrom('', ' ', '-', '.'))
  .map(([body, sep]) => (withLuhnDigit(body).match(/.{4}/g) as string[]).join(sep));
const ssn = fc
  .tuple(int(1, 665), int(1, 99), int(1, 9999))
  .map(([a, g, s]) => `${String(a).padStart(3, '0')}-${pad2(g)}-${String(s).padStart(4, '0')}`);
const email = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...letters, ...'0123456789._+-'.split('')), minLength: 1, maxLength: 12 }),
    fc.domain(),
  )
  .filter(([local, domain]) => /^[a-z0-9]/.test(local) && /\.[a-z]{2,}$/.test(domain))
  .map(([local, domain]) => `${local}@${domain}`);
const urlWithQuery = fc.webUrl({ withQueryParameters: true }).filter((u) => /\?[^\s]+/.test(u));
const schemelessUrl = urlWithQuery
  .map((u) => u.replace(/^[a-z]+:\/\//, ''))
  .filter((u) => /^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}[/?:]/.test(u));
const dob = fc
  .tuple(
    fc.constantFrom('DOB', 'DOB:', 'date of birth', 'born on', 'Birthday'),
    int(1, 28),
    int(1, 12),
    int(1920, 2020),
  )
  .map(([k, d, m, y]) => [k, `${pad2(d)}/${pad2(m)}/${y}`] as const);

/** Full-width form of printable ASCII (what NFKC folds back): "a1@" → "ａ１＠". */
const fullWidth = (s: string) =>
  s.replace(/[!-~]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 0xfee0)).replace(/ /g, '\u3000');

describe('anonymize: properties', () => {
  test('ordinary text (words, prices, times, versions, dates, short numbers) comes out unchanged', () => {
    check(fc.property(ordinaryText, (t) => anonymize(t) === t));
  });

  const kinds: [string, fc.Arbitrary<string>, string][] = [
    ['payment card (Luhn-valid, any separator)', card, '<CARD>'],
    ['SSN', ssn, '<SSN>'],
    ['e-mail address', email, '<EMAIL>'],
    ['IPv4 address', fc.ipV4(), '<IP>'],
    ['URL with a query', urlWithQuery, '<URL>'],
    ['scheme-less URL with a query', schemelessUrl, '<URL>'],
  ];
  for (const [name, pii, tag] of kinds) {
    test(`a ${name} inside ordinary text never survives, in ASCII or full-width digits/letters`, () => {
      check(
        fc.property(word, pii, word, fc.boolean(), (before, value, after, wide) => {
          const shown = wide ? fullWidth(value) : value;
          const out = anonymize(`${before} ${shown} ${after}`);
          return !out.includes(value) && !out.includes(shown) && out.includes(tag);
        }),
      );
    });
  }

  test('an IPv6 address never survives', () => {
    check(
      fc.property(
        fc.ipV6().filter((ip) => /[0-9a-f]/i.test(ip)),
        (ip) => !anonymize(`from ${ip} today`).includes(ip),
      ),
    );
  });

  test('a date after "DOB", "date of birth", "born on" becomes <DOB>', () => {
    check(
      fc.property(dob, ([key, date]) => {
        const out = anonymize(`${key} ${date}`);
        return !out.includes(date) && out.includes('<DOB>');
      }),
    );
  });

  test('full-width text is anonymised exactly like its ASCII form', () => {
    const printable = fc.string({
      unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
      maxLength: 60,
    });
    const piiLike = fc.oneof(printable, ordinaryText, card, ssn, email, fc.ipV4());
    check(fc.property(piiLike, (s) => anonymize(fullWidth(s)) === anonymize(s)));
  });

  test('never throws, and leaves no run of six or more digits in any script', () => {
    check(fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => !/\p{Nd}{6,}/u.test(anonymize(s))));
  });

  test('is idempotent on text with personal data', () => {
    const mixed = fc
      .array(fc.oneof(ordinaryText, card, ssn, email, fc.ipV4(), urlWithQuery), { maxLength: 6 })
      .map((parts) => parts.join(' '));
    check(
      fc.property(mixed, (s) => {
        const once = anonymize(s);
        return anonymize(once) === once;
      }),
    );
  });
});

describe('featurizer: properties', () => {
  const cfg = { ...DEFAULT_FEATURIZER, hashBits: 14 };
  const shared = new Featurizer(cfg);
  const featuresOf = (f: Featurizer, text: string): Map<number, number> => {
    f.scan(text);
    const { indices, values } = f.extract();
    const m = new Map<number, number>();
    for (let k = 0; k < indices.length; k++) m.set(indices[k], (m.get(indices[k]) ?? 0) + values[k]);
    f.reset();
    return m;
  };
  const same = (a: Map<number, number>, b: Map<number, number>) =>
    a.size === b.size && [...a].every(([k, v]) => Math.abs((b.get(k) ?? Number.NaN) - v) < 1e-6);
  const anyText = fc.string({ unit: 'binary', maxLength: 300 });

  test('never throws; indices lie in [0, 2^hashBits); values are finite; each block has norm ≤ its weight', () => {
    check(
      fc.property(anyText, (text) => {
        shared.scan(text);
        const { indices, values } = shared.extract();
        shared.reset();
        let sumSq = 0;
        for (let k = 0; k < indices.length; k++) {
          if (!(indices[k] >= 0 && indices[k] < shared.dim)) return false;
          if (!Number.isFinite(values[k])) return false;
          sumSq += values[k] * values[k];
        }
        return sumSq <= cfg.wordWeight ** 2 + cfg.charWeight ** 2 + 1e-4;
      }),
    );
  });

  test('is deterministic: a fresh instance, or the same one after other texts, gives the same features', () => {
    check(
      fc.property(anyText, anyText, (text, other) => {
        const first = featuresOf(shared, text);
        featuresOf(shared, other);
        return same(first, featuresOf(shared, text)) && same(first, featuresOf(new Featurizer(cfg), text));
      }),
    );
  });

  test('a text and its NFC and NFD forms give the same features (Latin with combining accents)', () => {
    const unit = fc.constantFrom(
      ...'aeiouncAEIOUNC ,.!?1'.split(''),
      '\u0301',
      '\u0300',
      '\u0308',
      '\u0327',
      '\u0303',
      'é',
      'ñ',
      'ü',
      'ç',
      'À',
    );
    check(
      fc.property(fc.string({ unit, maxLength: 60 }), (text) => {
        const f = featuresOf(shared, text);
        return same(f, featuresOf(shared, text.normalize('NFC'))) && same(f, featuresOf(shared, text.normalize('NFD')));
      }),
    );
  });

  test('zero-width characters inside words change nothing ("fr\\u200bee" reads as "free")', () => {
    check(
      fc.property(
        fc.array(word, { minLength: 1, maxLength: 6 }),
        fc.array(fc.tuple(fc.nat(), fc.constantFrom('\u200b', '\u200c', '\u200d', '\u00ad', '\u2060', '\ufeff')), {
          maxLength: 5,
        }),
        (words, inserts) => {
          const plain = words.join(' ');
          let hidden = plain;
          for (const [at, ch] of inserts) {
            const i = at % (hidden.length + 1);
            hidden = hidden.slice(0, i) + ch + hidden.slice(i);
          }
          return same(featuresOf(shared, plain), featuresOf(shared, hidden));
        },
      ),
    );
  });

  test('a text the API refuses as blank gives the model no tokens', () => {
    const invisible = fc.constantFrom(
      ' ',
      '\t',
      '\n',
      '\u00a0',
      '\u3000',
      '\u2028',
      '\u200b',
      '\u200d',
      '\ufeff',
      '\u00ad',
      '\u3164',
      '\ufe0f',
      '\u0000',
      '\u180e',
    );
    check(
      fc.property(fc.oneof(fc.string({ unit: invisible, maxLength: 20 }), anyText), (text) => {
        if (hasVisibleText(text)) return true;
        shared.scan(text);
        const tokens = shared.counts.tokens;
        shared.reset();
        return tokens === 0;
      }),
    );
  });
});

test('the property generators produce what they claim (a sanity check of the test itself)', () => {
  const sample = (a: fc.Arbitrary<string>) => fc.sample(a, { seed: 1, numRuns: 20 });
  for (const c of sample(card)) assert.ok(luhnValid(c.replace(/\D/g, '')), c);
  for (const u of sample(schemelessUrl)) assert.ok(!u.includes('://') && u.includes('?'), u);
  for (const t of sample(ordinaryText)) assert.ok(t.length > 0);
});
