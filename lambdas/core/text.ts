/** Text files (migrations, data files) are UTF-8, strictly: a bad byte is an error naming the file and line, never a U+FFFD stored as data. */
const strict = new TextDecoder('utf-8', { fatal: true });
const lenient = new TextDecoder('utf-8');
const encoder = new TextEncoder();

export class InvalidUtf8Error extends Error {
  override readonly name = 'InvalidUtf8Error';
}

/** Valid UTF-8 decodes and encodes back to the same bytes; a bad sequence comes back as U+FFFD's bytes. */
function validUtf8(bytes: Uint8Array): boolean {
  const again = encoder.encode(lenient.decode(bytes));
  return again.length === bytes.length && again.every((b, i) => b === bytes[i]);
}

export function decodeUtf8Strict(bytes: Uint8Array, name: string): string {
  try {
    return strict.decode(bytes);
  } catch {
    let line = 1;
    let start = 0;
    for (let i = 0; i <= bytes.length; i++) {
      if (i < bytes.length && bytes[i] !== 0x0a) continue;
      if (!validUtf8(bytes.subarray(start, i))) throw new InvalidUtf8Error(`${name}: line ${line} is not valid UTF-8; expected a UTF-8 text file`);
      line++;
      start = i + 1;
    }
    throw new InvalidUtf8Error(`${name} is not valid UTF-8; expected a UTF-8 text file`);
  }
}
