// One definition of "a text with nothing to classify", shared by POST /predict (its JSON schema, so
// /openapi.json says it too) and the CLI.
//
// A text is blank when every character is an invisible one of the Basic Multilingual Plane: white space
// (ASCII spaces, NBSP, the ideographic space U+3000, line and paragraph separators), control characters,
// format characters (zero-width space U+200B, joiners, the BOM, soft hyphen) and the other
// default-ignorable code points (Hangul fillers, variation selectors). "\u200b\u200b" and "\u3000" are
// both blank. Characters outside the BMP (emoji, historic scripts) always count as visible: that keeps
// the rule one plain character class that JSON Schema validators in any language read the same way
// (ECMAScript and Python regexes alike), so a client's validator and this service agree.
// The class is the BMP part of [\p{White_Space}\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]
// (test/unit/visible.test.ts checks it against the running Node.js's Unicode data).

export const INVISIBLE_BMP =
  '\\u0000-\\u0020\\u007f-\\u00a0\\u00ad\\u034f\\u0600-\\u0605\\u061c\\u06dd\\u070f\\u0890-\\u0891\\u08e2' +
  '\\u115f-\\u1160\\u1680\\u17b4-\\u17b5\\u180b-\\u180f\\u2000-\\u200f\\u2028-\\u202f\\u205f-\\u206f\\u3000' +
  '\\u3164\\ufe00-\\ufe0f\\ufeff\\uffa0\\ufff0-\\ufffb';

/** A JSON Schema `pattern` (unanchored: "contains"): at least one visible character. */
export const VISIBLE_PATTERN = `[^${INVISIBLE_BMP}]`;

const VISIBLE = new RegExp(VISIBLE_PATTERN);

/** Whether the text has at least one visible character. */
export function hasVisibleText(text: string): boolean {
  return VISIBLE.test(text);
}
