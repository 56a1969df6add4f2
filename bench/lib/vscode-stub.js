// A stand-in for the `vscode` module, enough for `activate()` to construct and register
// everything outside VS Code. Every API it does not model returns an inert object that
// accepts any call, so activation runs its own code and nothing of VS Code's.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/**
 * An object that is callable, constructible and has every property: a property read
 * returns what was assigned to it, else another inert value.
 */
function inert() {
  const target = function inertValue() {};
  const assigned = new Map();
  return new Proxy(target, {
    get(_target, property) {
      if (assigned.has(property)) return assigned.get(property);
      if (property === 'then') return undefined;
      if (property === Symbol.toPrimitive) return () => '';
      if (property === Symbol.iterator) return function* empty() {};
      if (property === 'prototype') return target.prototype;
      return inert();
    },
    set(_target, property, value) {
      assigned.set(property, value);
      return true;
    },
    apply: () => inert(),
    construct: () => inert(),
  });
}

class Disposable {
  constructor(callOnDispose = () => undefined) {
    this.callOnDispose = callOnDispose;
  }

  static from(...items) {
    return new Disposable(() => items.forEach((item) => item?.dispose?.()));
  }

  dispose() {
    this.callOnDispose();
  }
}

class EventEmitter {
  constructor() {
    this.listeners = new Set();
    this.event = (listener, thisArgs, disposables) => {
      const bound = listener.bind(thisArgs);
      this.listeners.add(bound);
      const disposable = new Disposable(() => this.listeners.delete(bound));
      disposables?.push(disposable);
      return disposable;
    };
  }

  fire(value) {
    for (const listener of this.listeners) listener(value);
  }

  dispose() {
    this.listeners.clear();
  }
}

class Uri {
  constructor(scheme, fsPath) {
    this.scheme = scheme;
    this.fsPath = fsPath;
    this.path = fsPath;
  }

  static file(fsPath) {
    return new Uri('file', fsPath);
  }

  static joinPath(base, ...segments) {
    return new Uri(base.scheme, path.join(base.fsPath, ...segments));
  }

  static parse(value) {
    return new Uri(value.split(':')[0], value.replace(/^[a-z]+:\/\//, ''));
  }

  with() {
    return this;
  }

  toString() {
    return `${this.scheme}://${this.fsPath}`;
  }
}

class TreeItem {
  constructor(label, collapsibleState) {
    this.label = label;
    this.collapsibleState = collapsibleState;
  }
}

function memento() {
  const values = new Map();
  return {
    get: (key, fallback) => (values.has(key) ? values.get(key) : fallback),
    update: async (key, value) => void values.set(key, value),
    keys: () => [...values.keys()],
    setKeysForSync: () => undefined,
  };
}

const configuration = {
  get: (_key, fallback) => fallback,
  has: () => false,
  inspect: () => undefined,
  update: async () => undefined,
};

const api = {
  Disposable,
  EventEmitter,
  Uri,
  TreeItem,
  TreeItemCollapsibleState: { None: 0, Collapsed: 1, Expanded: 2 },
  StatusBarAlignment: { Left: 1, Right: 2 },
  l10n: {
    t: (message, ...args) => {
      const text = typeof message === 'string' ? message : message.message;
      return text.replace(/\{(\d+)\}/g, (match, index) => String(args[Number(index)] ?? match));
    },
  },
  workspace: new Proxy({ getConfiguration: () => configuration, onDidChangeConfiguration: new EventEmitter().event, isTrusted: true, workspaceFolders: undefined }, {
    get: (target, property) => (property in target ? target[property] : inert()),
  }),
};

/**
 * Returns the names the real module exports, read from @types/vscode. Bundlers copy a
 * module's own properties when they convert it for `import * as vscode`, so the stub must
 * have each name as a real property.
 */
function exportedNames() {
  const declarations = fs.readFileSync(require.resolve('@types/vscode/index.d.ts'), 'utf8');
  return [...declarations.matchAll(/^\texport (?:namespace|class|enum|const|let|function) (\w+)/gm)].map((match) => match[1]);
}

/** Returns the stub module: the modeled parts above, and an inert value for every other export. */
function createVscodeStub() {
  const stub = { ...api };
  for (const name of exportedNames()) {
    if (!(name in stub)) stub[name] = inert();
  }
  return stub;
}

/** Returns an ExtensionContext whose storage folders are under `storageDir`. */
function createContext(extensionDir, storageDir) {
  return {
    subscriptions: [],
    extensionUri: Uri.file(extensionDir),
    extensionPath: extensionDir,
    globalStorageUri: Uri.file(path.join(storageDir, 'global')),
    storageUri: Uri.file(path.join(storageDir, 'workspace')),
    logUri: Uri.file(path.join(storageDir, 'log')),
    globalState: memento(),
    workspaceState: memento(),
    secrets: { get: async () => undefined, store: async () => undefined, delete: async () => undefined, onDidChange: new EventEmitter().event },
    extensionMode: 1,
    asAbsolutePath: (relative) => path.join(extensionDir, relative),
  };
}

module.exports = { createContext, createVscodeStub };
