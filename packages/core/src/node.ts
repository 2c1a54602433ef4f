// Node-only parts (file-backed outbox store, AsyncLocalStorage, signal hooks) live behind this entry.
export * from './index';
