// One definition of "a text with nothing to classify", shared by POST /predict and the CLI.
//
// A text is blank when every character is invisible: Unicode white space (ASCII spaces, NBSP, the
// ideographic space U+3000, line and paragraph separators), control characters, format characters
// (zero-width space U+200B, joiners, the BOM, soft hyphen) and other default-ignorable code points
// (Hangul fillers, variation selectors), and lone surrogates. "\u200b\u200b" and "\u3000" are both blank.

const VISIBLE = /[^\p{White_Space}\p{Cc}\p{Cf}\p{Cs}\p{Default_Ignorable_Code_Point}]/u;

/** Whether the text has at least one visible character. */
export function hasVisibleText(text: string): boolean {
  return VISIBLE.test(text);
}
