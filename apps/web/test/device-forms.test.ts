import { describe, expect, it } from 'vitest';
import { deviceBody, emptyDeviceFields, emptyListenerFields, listenerBody, type ListenerFields } from '../src/lib/device-forms.js';

const listener = (fields: Partial<ListenerFields>): ListenerFields => ({ ...emptyListenerFields(), ...fields });

describe('the add-listener form', () => {
  it('sends only what was filled in, so the gateway defaults apply', () => {
    expect(listenerBody(listener({ framing: 'raw', port: '9200' }))).toEqual({ framing: 'raw', port: 9200 });
  });

  it('keeps the delimiter as text with escapes, as the REST body wants it', () => {
    expect(listenerBody(listener({ framing: 'line', port: '9100', delimiter: '\\r\\n', room: 'plc', idleFlushMs: '100', encoding: 'latin1' }))).toEqual({
      framing: 'line',
      port: 9100,
      delimiter: '\\r\\n',
      room: 'plc',
      idleFlushMs: 100,
      encoding: 'latin1',
    });
  });

  it('sends the options of the chosen framing only', () => {
    const body = listenerBody(
      listener({
        framing: 'raw',
        port: '9200',
        host: '0.0.0.0',
        delimiter: '#',
        idleMs: '50',
        fixedLength: '8',
        typeByte: true,
        senderPrefix: true,
        idleTimeoutMs: '60000',
        hears: 'everyone',
        notices: true,
      }),
    );
    expect(body).toEqual({
      framing: 'raw',
      port: 9200,
      host: '0.0.0.0',
      idleMs: 50,
      fixedLength: 8,
      typeByte: true,
      senderPrefix: true,
      hears: 'everyone',
      notices: true,
      idleTimeoutMs: 60000,
    });
    expect(listenerBody(listener({ framing: 'frame', port: '9300', senderPrefix: true, idleMs: '5' }))).toEqual({ framing: 'frame', port: 9300 });
  });

  it('names the field it refuses', () => {
    expect(() => listenerBody(listener({ port: '' }))).toThrow(expect.objectContaining({ field: 'port' }));
    expect(() => listenerBody(listener({ port: '70000' }))).toThrow(expect.objectContaining({ field: 'port' }));
    expect(() => listenerBody(listener({ port: '9.5' }))).toThrow(expect.objectContaining({ field: 'port' }));
    expect(() => listenerBody(listener({ port: '1', room: 'two words' }))).toThrow(expect.objectContaining({ field: 'room' }));
    expect(() => listenerBody(listener({ port: '1', delimiter: '\\q' }))).toThrow(expect.objectContaining({ field: 'delimiter' }));
    expect(() => listenerBody(listener({ framing: 'raw', port: '1', idleMs: '0' }))).toThrow(expect.objectContaining({ field: 'idleMs' }));
  });
});

describe('the add-device form', () => {
  it('builds the body of the README example', () => {
    const fields = { ...emptyDeviceFields(), name: 'robot1', port: '1025', delimiter: '#', idleFlushMs: '100', room: 'cell1' };
    expect(deviceBody(fields)).toEqual({ name: 'robot1', host: '127.0.0.1', port: 1025, framing: 'line', delimiter: '#', idleFlushMs: 100, room: 'cell1' });
  });

  it('leaves line options out of a raw device', () => {
    const fields = { ...emptyDeviceFields(), name: 'scale', port: '4001', framing: 'raw' as const, delimiter: '#' };
    expect(deviceBody(fields)).toEqual({ name: 'scale', host: '127.0.0.1', port: 4001, framing: 'raw' });
  });

  it('refuses a name that cannot be a member name, and port 0', () => {
    expect(() => deviceBody({ ...emptyDeviceFields(), name: 'robot 1', port: '1' })).toThrow(expect.objectContaining({ field: 'name' }));
    expect(() => deviceBody({ ...emptyDeviceFields(), name: 'r', port: '0' })).toThrow(expect.objectContaining({ field: 'port' }));
  });
});
