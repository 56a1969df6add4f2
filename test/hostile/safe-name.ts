/**
 * What makes a stored name safe, checked independently of src/storage/names.ts: the rules
 * a display name or path segment must meet before anyone shows it or writes a file with it.
 */

const CONTROL_OR_BIDI = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const WINDOWS_RESERVED_CHARACTER = /[<>:"|?*]/;
const WINDOWS_DEVICE_STEM = /^(con|prn|aux|nul|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])$/i;
export const MAX_SEGMENT_BYTES = 255;

/** Returns why `segment` is not a safe file name on Linux, macOS and Windows; empty when it is. */
export function unsafeSegmentReasons(segment: string): string[] {
  const reasons: string[] = [];
  if (segment.length === 0 || segment === '.' || segment === '..') reasons.push('empty, "." or ".."');
  if (/[/\\]/.test(segment)) reasons.push('contains a path separator');
  if (WINDOWS_RESERVED_CHARACTER.test(segment)) reasons.push('contains a character Windows reserves');
  if (CONTROL_OR_BIDI.test(segment)) reasons.push('contains a control or bidi character');
  if (LONE_SURROGATE.test(segment)) reasons.push('contains a lone surrogate');
  if (/[. ]$/.test(segment)) reasons.push('ends with a dot or a space');
  if (segment !== segment.normalize('NFC')) reasons.push('is not in NFC');
  if (Buffer.byteLength(segment, 'utf8') > MAX_SEGMENT_BYTES) reasons.push(`is longer than ${MAX_SEGMENT_BYTES} bytes of UTF-8`);
  if (WINDOWS_DEVICE_STEM.test(segment.split('.')[0].replace(/ +$/, ''))) reasons.push('is a Windows device name');
  return reasons;
}

/** Returns true when `text` contains a character that could move a terminal's cursor or reorder text. */
export function hasControlOrBidi(text: string): boolean {
  return CONTROL_OR_BIDI.test(text);
}
