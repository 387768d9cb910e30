// The Devices view's state, handed to its components through context under a private key.
import { getContext, setContext } from 'svelte';
import type { DevicesState } from './devices.svelte.js';

const DEVICES = Symbol('switchboard.devices');

export function setDevices(state: DevicesState): DevicesState {
  return setContext(DEVICES, state);
}

export function getDevices(): DevicesState {
  const state = getContext<DevicesState | undefined>(DEVICES);
  if (!state) throw new Error('The Devices view state is missing: render this component inside App.svelte.');
  return state;
}
