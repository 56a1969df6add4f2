/**
 * The receiver embedded in the extension host: starts and stops it, keeps the list of
 * uploads in flight, and reports its state to the views and the status bar.
 */
import * as vscode from 'vscode';
import type { IncomingOffer, Receiver, TransferInfo } from '../transfer/receiver';
import type { Store } from '../storage/store';
import type { InFlightUpload } from '../views/receivedFiles';
import { formatBytes } from '../views/format';
import { loadAccounts, loadLink, loadReceiver, loadReceiverKeys, loadStorage } from './core';
import { ReceiverIdentity, Secrets } from './secrets';
import { Settings } from './settings';
import { StoreService } from './storeService';

/** Context key that the menus and welcome views in package.json match. */
export const RECEIVER_RUNNING_CONTEXT = 'secureFileTransfer.receiverRunning';
/** How long a graceful stop waits for files in progress; the rest are kept for resume. */
export const STOP_GRACE_MS = 10_000;
/** How long an offer waits for the user's response when the receiver asks before accepting. */
export const ACCEPT_QUESTION_TIMEOUT_MS = 60_000;
/** Shortest time between two refreshes caused by upload progress. */
const PROGRESS_REFRESH_MS = 250;

/** Address and identity of a running receiver. */
export interface ReceiverInfo {
  host: string;
  port: number;
  /** `HOST:PORT`, IPv6 hosts in brackets. */
  address: string;
  link: string;
  fingerprint: string;
}

interface Running {
  receiver: Receiver;
  store: Store;
  info: ReceiverInfo;
}

export class ReceiverController implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  /** Fires when the receiver starts or stops, and when uploads start, progress or end. */
  readonly onDidChange = this.changed.event;

  private running: Running | undefined;
  private transition: Promise<unknown> | undefined;
  private readonly inFlight = new Map<string, InFlightUpload>();
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly secrets: Secrets,
    private readonly storeService: StoreService,
    private readonly settings: () => Settings,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  /** The running receiver's address, or undefined when it is stopped. */
  get info(): ReceiverInfo | undefined {
    return this.running?.info;
  }

  /** Uploads that senders are sending now. */
  uploads(): InFlightUpload[] {
    return [...this.inFlight.values()];
  }

  get activeTransfers(): number {
    return this.inFlight.size;
  }

  /** Starts the receiver with the current settings; returns at once when it already runs. */
  async start(): Promise<ReceiverInfo> {
    await this.transition?.catch(() => undefined);
    if (this.running) {
      return this.running.info;
    }
    const starting = this.startNow();
    this.transition = starting;
    try {
      return await starting;
    } finally {
      this.transition = undefined;
    }
  }

  /**
   * Stops the receiver. Files in progress get STOP_GRACE_MS to finish when `graceful`;
   * the others are kept as partial uploads that their senders resume later.
   */
  async stop(graceful = true): Promise<void> {
    await this.transition?.catch(() => undefined);
    const running = this.running;
    if (!running) {
      return;
    }
    const stopping = this.stopNow(running, graceful);
    this.transition = stopping;
    try {
      await stopping;
    } finally {
      this.transition = undefined;
    }
  }

  /** Returns the receiver's identity, creating it on first use (about two seconds of key generation). */
  identity(): Promise<ReceiverIdentity> {
    return this.secrets.receiverIdentityOrCreate(() => createIdentity());
  }

  private async startNow(): Promise<ReceiverInfo> {
    const settings = this.settings();
    const identity = await this.identity();

    const [{ Receiver }, { Store }, { Accounts }] = await Promise.all([loadReceiver(), loadStorage(), loadAccounts()]);
    const store = await Store.open(settings.storeDirectory, { logger: this.log });
    let receiver: Receiver;
    let address: { host: string; port: number };
    try {
      const accounts = await Accounts.open(settings.storeDirectory);
      receiver = new Receiver({
        store,
        accounts,
        tls: { keyPem: identity.tlsKeyPem, certPem: identity.tlsCertPem },
        publicKey: identity.envelopePublicKeyPem,
        logger: this.log,
        askBeforeAccept: settings.askBeforeAccepting ? (offer) => this.askBeforeAccept(offer) : undefined,
        software: 'sft-vscode',
      });
      this.watch(receiver);
      address = await receiver.start({ host: settings.receiverHost, port: settings.receiverPort });
    } catch (error) {
      await store.close();
      throw error;
    }

    const { formatHostPort } = await loadLink();
    const info: ReceiverInfo = {
      host: address.host,
      port: address.port,
      address: formatHostPort(address.host, address.port),
      link: receiver.link(),
      fingerprint: receiver.fingerprint,
    };
    this.running = { receiver, store, info };
    this.storeService.attach(store);
    await vscode.commands.executeCommand('setContext', RECEIVER_RUNNING_CONTEXT, true);
    this.changed.fire();
    return info;
  }

  private async stopNow(running: Running, graceful: boolean): Promise<void> {
    try {
      await running.receiver.stop({ graceful, timeoutMs: STOP_GRACE_MS });
    } finally {
      running.receiver.removeAllListeners();
      this.running = undefined;
      this.inFlight.clear();
      this.storeService.detach();
      await running.store.close();
      await vscode.commands.executeCommand('setContext', RECEIVER_RUNNING_CONTEXT, false);
      this.changed.fire();
    }
  }

  private watch(receiver: Receiver): void {
    const key = (info: TransferInfo) => `${info.username}\u0000${info.transferId}`;
    const track = (info: TransferInfo) => {
      this.inFlight.set(key(info), {
        transferId: info.transferId,
        senderUsername: info.username,
        remoteAddress: info.remoteAddress,
        displayName: info.displayName,
        relativePath: info.relativePath,
        receivedBytes: info.received,
        totalBytes: info.envelopeSize,
      });
    };

    receiver.on('transfer-start', (info) => {
      track(info);
      this.changed.fire();
    });
    receiver.on('transfer-progress', (info) => {
      track(info);
      this.scheduleRefresh();
    });
    receiver.on('transfer-done', (info) => {
      this.inFlight.delete(key(info));
      this.storeService.refresh();
      this.changed.fire();
    });
    receiver.on('transfer-failed', (info) => {
      this.inFlight.delete(key(info));
      this.changed.fire();
    });
    receiver.on('connection-closed', (info) => {
      // A closed connection ends its uploads; they stay as partials for resume, not as entries.
      let removed = false;
      for (const [id, upload] of this.inFlight) {
        if (upload.remoteAddress === info.remoteAddress && upload.senderUsername === info.username) {
          this.inFlight.delete(id);
          removed = true;
        }
      }
      if (removed) {
        this.changed.fire();
      }
    });
  }

  private scheduleRefresh(): void {
    if (this.refreshTimer) {
      return;
    }
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.changed.fire();
    }, PROGRESS_REFRESH_MS);
  }

  private async askBeforeAccept(offer: IncomingOffer): Promise<boolean> {
    const accept = vscode.l10n.t('Accept');
    const reject = vscode.l10n.t('Reject');
    const name = offer.relativePath !== '' ? offer.relativePath : offer.displayName;
    const question = vscode.window.showInformationMessage(
      vscode.l10n.t('{0} ({1}) wants to send {2} ({3}).', offer.username, offer.remoteAddress, name, formatBytes(offer.plaintextSize)),
      accept,
      reject,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ACCEPT_QUESTION_TIMEOUT_MS);
    });
    const answer = await Promise.race([question, timeout]);
    clearTimeout(timer);

    const accepted = answer === accept;
    this.log.info(`${accepted ? 'Accepted' : 'Rejected'} transfer ${offer.transferId} from ${offer.username} at ${offer.remoteAddress}${answer === undefined ? ' (no response)' : ''}.`);
    return accepted;
  }

  dispose(): void {
    clearTimeout(this.refreshTimer);
    this.changed.dispose();
  }
}

/** Creates a TLS identity and an envelope key pair for a receiver that has none. */
async function createIdentity(): Promise<ReceiverIdentity> {
  const { createReceiverKeys } = await loadReceiverKeys();
  // No identity passphrase: SecretStorage protects the private keys instead.
  const keys = await createReceiverKeys();
  return {
    tlsKeyPem: keys.tls.keyPem,
    tlsCertPem: keys.tls.certPem,
    envelopePrivateKeyPem: keys.envelopePrivateKeyPem,
    envelopePublicKeyPem: keys.envelopePublicKeyPem,
  };
}
