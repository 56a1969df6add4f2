/**
 * Byte layout of the ZIP records the writer emits: local file header, data descriptor,
 * central directory header and the end records, following PKWARE's APPNOTE.TXT 6.3 and
 * WinZip's "AES Encryption Information" for the 0x9901 extra field.
 *
 * Every entry is streamed, so its local header carries a ZIP64 extra field with zero sizes
 * and 0xFFFFFFFF in the 32-bit size fields, and its data descriptor has 8-byte sizes. A
 * reader (7-Zip among them) decides the descriptor's size from that local ZIP64 field, so the
 * two always go together. The central directory and the end records use ZIP64 only for the
 * values that do not fit in their 16- or 32-bit fields.
 */

const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50;
const DATA_DESCRIPTOR_SIGNATURE = 0x08074b50;
const CENTRAL_DIRECTORY_HEADER_SIGNATURE = 0x02014b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06064b50;
const ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE = 0x07064b50;
const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;

const LOCAL_FILE_HEADER_BYTES = 30;
const DATA_DESCRIPTOR_BYTES = 24;
const CENTRAL_DIRECTORY_HEADER_BYTES = 46;
const ZIP64_END_OF_CENTRAL_DIRECTORY_BYTES = 56;
const ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_BYTES = 20;
const END_OF_CENTRAL_DIRECTORY_BYTES = 22;

/** 5.1: WinZip AES, as 7-Zip 26.02 writes it. This is above 4.5, the version that ZIP64 needs. */
const VERSION_NEEDED_AES = 51;
/** 4.5: ZIP64 end records. */
const VERSION_NEEDED_ZIP64 = 45;
/** Upper byte 0 (MS-DOS attributes), lower byte 63 (APPNOTE 6.3). */
const VERSION_MADE_BY = 63;

const FLAG_ENCRYPTED = 0x0001;
const FLAG_DATA_DESCRIPTOR = 0x0008;
const FLAG_UTF8_NAME = 0x0800;
const GENERAL_PURPOSE_FLAGS = FLAG_ENCRYPTED | FLAG_DATA_DESCRIPTOR | FLAG_UTF8_NAME;

const METHOD_WINZIP_AES = 99;
const METHOD_STORED = 0;

const ZIP64_EXTRA_ID = 0x0001;
const EXTENDED_TIMESTAMP_EXTRA_ID = 0x5455;
const EXTENDED_TIMESTAMP_HAS_MTIME = 0x01;
const WINZIP_AES_EXTRA_ID = 0x9901;
/** AE-2: the CRC field is 0 and the HMAC alone authenticates the data. */
const WINZIP_AES_VENDOR_VERSION_AE2 = 2;
const WINZIP_AES_VENDOR_ID = 'AE';
const WINZIP_AES_STRENGTH_256 = 3;

const UINT16_MAX = 0xffff;
const UINT32_MAX = 0xffff_ffff;
const INT32_MAX = 0x7fff_ffff;

/** Maximum entry name length in bytes, because the name length field is 16 bits. */
export const MAX_NAME_BYTES = UINT16_MAX;

/** Facts about one written entry that its central directory header records. */
export interface EntryRecord {
  nameBytes: Buffer;
  mtime: Date;
  localHeaderOffset: number;
  /** Plaintext size in bytes. */
  uncompressedSize: number;
  /** Size of the entry's data in the archive: salt, verifier, ciphertext and authentication code. */
  compressedSize: number;
}

/** Builds the local file header that starts an entry whose sizes follow in its data descriptor. */
export function localFileHeader(nameBytes: Buffer, mtime: Date): Buffer {
  // Sizes are unknown while streaming, so the data descriptor carries them.
  const zip64 = extraField(ZIP64_EXTRA_ID, Buffer.alloc(16));
  const extra = Buffer.concat([zip64, extendedTimestampExtra(mtime), winZipAesExtra()]);
  const { dosTime, dosDate } = toDosDateTime(mtime);

  const header = Buffer.alloc(LOCAL_FILE_HEADER_BYTES);
  header.writeUInt32LE(LOCAL_FILE_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(VERSION_NEEDED_AES, 4);
  header.writeUInt16LE(GENERAL_PURPOSE_FLAGS, 6);
  header.writeUInt16LE(METHOD_WINZIP_AES, 8);
  header.writeUInt16LE(dosTime, 10);
  header.writeUInt16LE(dosDate, 12);
  header.writeUInt32LE(0, 14); // CRC-32: always 0 under AE-2
  header.writeUInt32LE(UINT32_MAX, 18); // compressed size: in the ZIP64 extra field
  header.writeUInt32LE(UINT32_MAX, 22); // uncompressed size: in the ZIP64 extra field
  header.writeUInt16LE(nameBytes.length, 26);
  header.writeUInt16LE(extra.length, 28);
  return Buffer.concat([header, nameBytes, extra]);
}

/** Builds the ZIP64 data descriptor that follows an entry's data. */
export function dataDescriptor(compressedSize: number, uncompressedSize: number): Buffer {
  const descriptor = Buffer.alloc(DATA_DESCRIPTOR_BYTES);
  descriptor.writeUInt32LE(DATA_DESCRIPTOR_SIGNATURE, 0);
  descriptor.writeUInt32LE(0, 4); // CRC-32: always 0 under AE-2
  descriptor.writeBigUInt64LE(BigInt(compressedSize), 8);
  descriptor.writeBigUInt64LE(BigInt(uncompressedSize), 16);
  return descriptor;
}

/** Builds one central directory header, with a ZIP64 extra field only for values over 32 bits. */
export function centralDirectoryHeader(record: EntryRecord): Buffer {
  // APPNOTE 4.5.3: the ZIP64 field contains exactly the values whose 32-bit field is 0xFFFFFFFF, in this order.
  const zip64Values: number[] = [];
  const uncompressedField = fitOrMark(record.uncompressedSize, UINT32_MAX, zip64Values);
  const compressedField = fitOrMark(record.compressedSize, UINT32_MAX, zip64Values);
  const offsetField = fitOrMark(record.localHeaderOffset, UINT32_MAX, zip64Values);

  const extras: Buffer[] = [];
  if (zip64Values.length > 0) {
    extras.push(extraField(ZIP64_EXTRA_ID, uint64List(zip64Values)));
  }
  extras.push(extendedTimestampExtra(record.mtime), winZipAesExtra());
  const extra = Buffer.concat(extras);
  const { dosTime, dosDate } = toDosDateTime(record.mtime);

  const header = Buffer.alloc(CENTRAL_DIRECTORY_HEADER_BYTES);
  header.writeUInt32LE(CENTRAL_DIRECTORY_HEADER_SIGNATURE, 0);
  header.writeUInt16LE(VERSION_MADE_BY, 4);
  header.writeUInt16LE(VERSION_NEEDED_AES, 6);
  header.writeUInt16LE(GENERAL_PURPOSE_FLAGS, 8);
  header.writeUInt16LE(METHOD_WINZIP_AES, 10);
  header.writeUInt16LE(dosTime, 12);
  header.writeUInt16LE(dosDate, 14);
  header.writeUInt32LE(0, 16); // CRC-32: always 0 under AE-2
  header.writeUInt32LE(compressedField, 20);
  header.writeUInt32LE(uncompressedField, 24);
  header.writeUInt16LE(record.nameBytes.length, 28);
  header.writeUInt16LE(extra.length, 30);
  header.writeUInt16LE(0, 32); // comment length
  header.writeUInt16LE(0, 34); // disk number start
  header.writeUInt16LE(0, 36); // internal attributes
  header.writeUInt32LE(0, 38); // external attributes: a plain file
  header.writeUInt32LE(offsetField, 42);
  return Buffer.concat([header, record.nameBytes, extra]);
}

/**
 * Builds the records that close the archive: the ZIP64 end of central directory record and
 * its locator when a count, size or offset does not fit in the classic record, then the
 * classic end of central directory record.
 */
export function endOfCentralDirectory(
  entryCount: number,
  centralDirectoryOffset: number,
  centralDirectorySize: number,
): Buffer {
  const overflowMarks: number[] = [];
  const countField = fitOrMark(entryCount, UINT16_MAX, overflowMarks);
  const sizeField = fitOrMark(centralDirectorySize, UINT32_MAX, overflowMarks);
  const offsetField = fitOrMark(centralDirectoryOffset, UINT32_MAX, overflowMarks);
  const records: Buffer[] = [];

  if (overflowMarks.length > 0) {
    const zip64EndOffset = centralDirectoryOffset + centralDirectorySize;

    const zip64End = Buffer.alloc(ZIP64_END_OF_CENTRAL_DIRECTORY_BYTES);
    zip64End.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
    // The record size excludes the signature and the size field itself.
    zip64End.writeBigUInt64LE(BigInt(ZIP64_END_OF_CENTRAL_DIRECTORY_BYTES - 12), 4);
    zip64End.writeUInt16LE(VERSION_MADE_BY, 12);
    zip64End.writeUInt16LE(VERSION_NEEDED_ZIP64, 14);
    zip64End.writeUInt32LE(0, 16); // this disk
    zip64End.writeUInt32LE(0, 20); // disk with the central directory
    zip64End.writeBigUInt64LE(BigInt(entryCount), 24); // entries on this disk
    zip64End.writeBigUInt64LE(BigInt(entryCount), 32); // entries in total
    zip64End.writeBigUInt64LE(BigInt(centralDirectorySize), 40);
    zip64End.writeBigUInt64LE(BigInt(centralDirectoryOffset), 48);

    const locator = Buffer.alloc(ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_BYTES);
    locator.writeUInt32LE(ZIP64_END_OF_CENTRAL_DIRECTORY_LOCATOR_SIGNATURE, 0);
    locator.writeUInt32LE(0, 4); // disk with the ZIP64 end record
    locator.writeBigUInt64LE(BigInt(zip64EndOffset), 8);
    locator.writeUInt32LE(1, 16); // total number of disks

    records.push(zip64End, locator);
  }

  const end = Buffer.alloc(END_OF_CENTRAL_DIRECTORY_BYTES);
  end.writeUInt32LE(END_OF_CENTRAL_DIRECTORY_SIGNATURE, 0);
  end.writeUInt16LE(0, 4); // this disk
  end.writeUInt16LE(0, 6); // disk with the central directory
  end.writeUInt16LE(countField, 8);
  end.writeUInt16LE(countField, 10);
  end.writeUInt32LE(sizeField, 12);
  end.writeUInt32LE(offsetField, 16);
  end.writeUInt16LE(0, 20); // comment length
  records.push(end);
  return Buffer.concat(records);
}

/**
 * Converts `date` to MS-DOS date and time fields in local time, with 2-second resolution.
 * Dates outside 1980-2107, the range of the format, are clamped to its ends.
 */
export function toDosDateTime(date: Date): { dosTime: number; dosDate: number } {
  const year = date.getFullYear();
  if (year < 1980) {
    return { dosTime: 0, dosDate: (1 << 5) | 1 };
  }
  if (year > 2107) {
    return {
      dosTime: (23 << 11) | (59 << 5) | (58 >> 1),
      dosDate: ((2107 - 1980) << 9) | (12 << 5) | 31,
    };
  }

  const dosTime = (date.getHours() << 11) | (date.getMinutes() << 5) | (date.getSeconds() >> 1);
  const dosDate = ((year - 1980) << 9) | ((date.getMonth() + 1) << 5) | date.getDate();
  return { dosTime, dosDate };
}

/** Returns `value` when it fits below `max`, else records it in `overflow` and returns `max`. */
function fitOrMark(value: number, max: number, overflow: number[]): number {
  if (value < max) {
    return value;
  }
  overflow.push(value);
  return max;
}

function extraField(id: number, data: Buffer): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt16LE(id, 0);
  header.writeUInt16LE(data.length, 2);
  return Buffer.concat([header, data]);
}

function uint64List(values: number[]): Buffer {
  const data = Buffer.alloc(values.length * 8);
  values.forEach((value, i) => data.writeBigUInt64LE(BigInt(value), i * 8));
  return data;
}

/**
 * Builds the Info-ZIP extended timestamp field with the UTC modification time, which readers
 * prefer over the local-time DOS fields. Its 32-bit field cannot hold times before 1970 or
 * after January 2038, so such times get no field.
 */
function extendedTimestampExtra(mtime: Date): Buffer {
  const seconds = Math.floor(mtime.getTime() / 1000);
  if (seconds < 0 || seconds > INT32_MAX) {
    return Buffer.alloc(0);
  }
  const data = Buffer.alloc(5);
  data.writeUInt8(EXTENDED_TIMESTAMP_HAS_MTIME, 0);
  data.writeUInt32LE(seconds, 1);
  return extraField(EXTENDED_TIMESTAMP_EXTRA_ID, data);
}

/** Builds the WinZip AES field: AE-2, vendor "AE", AES-256, data stored without compression. */
function winZipAesExtra(): Buffer {
  const data = Buffer.alloc(7);
  data.writeUInt16LE(WINZIP_AES_VENDOR_VERSION_AE2, 0);
  data.write(WINZIP_AES_VENDOR_ID, 2, 'latin1');
  data.writeUInt8(WINZIP_AES_STRENGTH_256, 4);
  data.writeUInt16LE(METHOD_STORED, 5);
  return extraField(WINZIP_AES_EXTRA_ID, data);
}
