/**
 * Checks and encodes the password of a WinZip AES archive so that 7-Zip can open it.
 */
import { SftError } from '../errors';

/** Maximum password length that 7-Zip accepts for WinZip AES (kPasswordSizeMax in 7-Zip's Crypto/WzAes.h). */
export const MAX_ZIP_PASSWORD_BYTES = 99;

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * Returns the password's bytes, or throws `ZIP_PASSWORD_INVALID` when it is empty, longer
 * than 99 characters or not printable ASCII. When extracting, 7-Zip converts the password
 * to bytes in the system's ANSI code page (CP_ACP in its ZipHandler.cpp), so the bytes of a
 * non-ASCII password, and with them the keys, depend on the machine that opens the archive.
 */
export function encodeZipPassword(password: string): Buffer {
  if (typeof password !== 'string' || password.length === 0) {
    throw new SftError('ZIP_PASSWORD_INVALID', 'The ZIP password is empty. Choose a password of 1 to 99 printable ASCII characters.');
  }
  if (!PRINTABLE_ASCII.test(password)) {
    throw new SftError(
      'ZIP_PASSWORD_INVALID',
      'The ZIP password contains a character outside printable ASCII (letters, digits, punctuation and space). ' +
        '7-Zip reads such passwords in the system code page and might not open the archive; use printable ASCII only.',
    );
  }
  if (password.length > MAX_ZIP_PASSWORD_BYTES) {
    throw new SftError(
      'ZIP_PASSWORD_INVALID',
      `The ZIP password is ${password.length} characters long; 7-Zip accepts at most ${MAX_ZIP_PASSWORD_BYTES}. Choose a shorter password.`,
    );
  }
  return Buffer.from(password, 'latin1');
}
