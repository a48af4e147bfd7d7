import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeHeaderValue, decodeQuotedPrintable, extractEmail, firstLine, htmlToText } from '../../src/data/email.ts';

const crlf = (s: string) => s.replace(/\n/g, '\r\n');

describe('extractEmail', () => {
  it('takes the subject and the plain body, not the headers', () => {
    const raw = `From someone@example.com  Thu Aug 22 13:17:22 2002
Return-Path: <a@example.com>
Received: from x
\tby y; Thu, 22 Aug 2002
Subject: Hello
 there
From: a@example.com

Body line one.


Body line two.   
`;
    const e = extractEmail(raw);
    assert.equal(e.subject, 'Hello there');
    assert.equal(e.body, 'Body line one.\n\nBody line two.');
    assert.equal(e.text, 'Hello there\nBody line one.\n\nBody line two.');
    assert.ok(!e.text.includes('Received'));
  });

  it('handles CRLF line endings and a missing subject', () => {
    const e = extractEmail(crlf('From: a@example.com\n\nJust a body\n'));
    assert.equal(e.subject, '');
    assert.equal(e.text, '\nJust a body');
  });

  it('decodes RFC 2047 encoded words in the subject (B and Q, adjacent words joined)', () => {
    const e = extractEmail('Subject: =?UTF-8?B?w5xiZXIgZGVu?= =?ISO-8859-1?Q?_Pr=E4sident?= now\n\nx\n');
    assert.equal(e.subject, 'Über den Präsident now');
  });

  it('walks multipart/alternative and prefers text/plain', () => {
    const raw = `Subject: Alt
Content-Type: multipart/alternative; boundary="XYZ"

preamble
--XYZ
Content-Type: text/html; charset=us-ascii

<p>HTML version</p>
--XYZ
Content-Type: text/plain; charset=us-ascii

Plain version
--XYZ--
epilogue
`;
    assert.equal(extractEmail(raw).body, 'Plain version');
  });

  it('uses stripped HTML when there is no plain part (scripts, styles, comments, entities)', () => {
    const raw = `Subject: Offer
Content-Type: text/html

<html><head><style>p { color: red }</style><script>var x = "<b>no</b>";</script></head>
<body><!-- hidden --><p>Save&nbsp;70% &amp; more &#8364;5 &#x41;</p><br>Click <a href="http://x.example/?a=1&b=2">here</a></body></html>
`;
    const e = extractEmail(raw);
    assert.equal(e.body, 'Save 70% & more €5 A\n\nClick  here');
    assert.ok(!e.body.includes('color'));
    assert.ok(!e.body.includes('var x'));
    assert.ok(!e.body.includes('hidden'));
  });

  it('decodes quoted-printable with a charset and soft line breaks', () => {
    const raw = `Subject: QP
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Caf=E9 au lait co=
sts =3D 2 =80uros
`;
    // windows-1252 is used for iso-8859-1 labels (as browsers do): 0x80 is the euro sign
    assert.equal(extractEmail(raw).body, 'Café au lait costs = 2 €uros');
  });

  it('decodes base64 text parts in nested multiparts and skips attachments', () => {
    const body = Buffer.from('Grüße aus Köln', 'utf8').toString('base64');
    const attachment = Buffer.from('SECRET ATTACHMENT TEXT').toString('base64');
    const raw = `Subject: Nested
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64

${body}
--inner--

--outer
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.txt"
Content-Transfer-Encoding: base64

${attachment}
--outer
Content-Type: image/gif
Content-Transfer-Encoding: base64

R0lGODlhAQABAAAAACw=
--outer--
`;
    const e = extractEmail(raw);
    assert.equal(e.body, 'Grüße aus Köln');
  });

  it('falls back gracefully for unknown charsets', () => {
    const raw = `Subject: x
Content-Type: text/plain; charset="x-no-such-charset"
Content-Transfer-Encoding: base64

${Buffer.from('naïve', 'utf8').toString('base64')}
`;
    assert.equal(extractEmail(raw).body, 'naïve');
    const latin = `Subject: x
Content-Type: text/plain; charset="x-no-such-charset"
Content-Transfer-Encoding: quoted-printable

na=EFve
`;
    assert.equal(extractEmail(latin).body, 'naïve');
  });

  it('shows a multipart with a broken boundary as text', () => {
    const raw = `Subject: b
Content-Type: multipart/alternative; boundary="=A B"

--= A B
Content-Type: text/plain

hello
`;
    assert.match(extractEmail(raw).body, /hello/);
  });
});

describe('helpers', () => {
  it('decodeHeaderValue leaves plain text and malformed words alone', () => {
    assert.equal(decodeHeaderValue('plain =? text'), 'plain =? text');
    assert.equal(decodeHeaderValue('a =?utf-8?q?caf=C3=A9?= b'), 'a café b');
  });

  it('decodeQuotedPrintable keeps malformed escapes', () => {
    assert.equal(Buffer.from(decodeQuotedPrintable('a=ZZb=4')).toString('latin1'), 'a=ZZb=4');
  });

  it('htmlToText does not swallow text after an unclosed comment or a stray </style>', () => {
    assert.equal(htmlToText('<!--#rotate>Hello</style> world').trim(), 'Hello  world');
  });

  it('firstLine returns the first non-empty line, cut to the limit', () => {
    assert.equal(firstLine('\n\n  first line here \nsecond'), 'first line here');
    assert.equal(firstLine('x'.repeat(300)).length, 160);
    assert.equal(firstLine(''), '');
  });
});
