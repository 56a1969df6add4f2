/**
 * The transfer layer's public interface: receiver, sender, links, fingerprints and keys.
 */
export {
  DEFAULT_RECEIVER_LIMITS,
  MAX_CHECKPOINT_INTERVAL_BYTES,
  Receiver,
} from './receiver';
export type { IncomingOffer, ListenOptions, ReceiverEvents, ReceiverLimits, ReceiverLogger, ReceiverOptions, TransferInfo } from './receiver';
export { DEFAULT_SEND_TIMEOUTS, MAX_UNCOMMITTED_BYTES, sendFiles } from './sender';
export type { ConfirmFingerprint, DeliveredFile, RejectedFile, SendOptions, SendProgress, SendResult, SendTimeouts, SkippedPath, SourceFile } from './sender';
export { KnownReceivers, defaultKnownReceiversPath } from './known-receivers';
export { formatHostPort, formatLink, parseHostPort, parseReceiverAddress } from './link';
export type { ReceiverAddress } from './link';
export { certificateFingerprint, createTlsIdentity, isFingerprint, parseFingerprint } from './identity';
export type { TlsIdentity } from './identity';
export { createReceiverKeys, loadOrCreateReceiverKeys, loadReceiverPrivateKey } from './receiver-keys';
export type { ReceiverKeys, StoredReceiverKeys } from './receiver-keys';
export { PROTOCOL_VERSION } from './messages';
export { exportEntryToZip, findEntry } from './export-entry';
export type { ExportOptions, ExportResult } from './export-entry';
