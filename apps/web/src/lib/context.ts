// The console's state objects, handed to components through context under private symbol
// keys, so nothing but these helpers can read or replace them.
import { getContext, setContext } from 'svelte';
import type { AdminState } from './admin.svelte.js';
import type { ChatState } from './chat.svelte.js';
import type { GatewayConnection } from './connection.svelte.js';
import type { FileTransfers } from './files.svelte.js';

export interface ConsoleState {
  connection: GatewayConnection;
  chat: ChatState;
  files: FileTransfers;
  admin: AdminState;
}

const CONSOLE = Symbol('switchboard.console');

export function setConsoleState(state: ConsoleState): ConsoleState {
  return setContext(CONSOLE, state);
}

function consoleState(): ConsoleState {
  const state = getContext<ConsoleState | undefined>(CONSOLE);
  if (!state) throw new Error('Switchboard console state is missing: render this component inside App.svelte.');
  return state;
}

export const getConnection = (): GatewayConnection => consoleState().connection;
export const getChat = (): ChatState => consoleState().chat;
export const getFiles = (): FileTransfers => consoleState().files;
export const getAdmin = (): AdminState => consoleState().admin;
