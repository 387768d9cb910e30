import { parseArgs } from 'node:util';
import { NAME_RULE, isValidName } from '@switchboard/protocol';

export interface CliOptions {
  host: string;
  port: number;
  name: string | undefined;
  room: string | undefined;
  downloads: string;
  raw: boolean;
  tls: boolean;
  ca: string | undefined;
  insecure: boolean;
  listen: boolean;
  help: boolean;
}

/** A mistake on the command line: printed with the usage hint, exit status 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const USAGE = `Usage: switchboard-client [options]

Chat on a Switchboard server from the terminal. Lines read from stdin are said in the
current room; lines starting with / are commands (type /help once connected).

Options:
  --host HOST       server address (default 127.0.0.1, or $SWITCHBOARD_HOST)
  --port PORT       server TCP port (default 9000, or $SWITCHBOARD_PORT)
  --name NAME       name to use (default: $SWITCHBOARD_NAME, else the server's address name)
  --room ROOM       first room (default lobby)
  --downloads DIR   where received files are saved (default ./downloads)
  --raw             plain device: no hello; every line is sent as a type-0 text frame and
                    text lines from the server are printed as they come
  --tls             connect over TLS
  --ca FILE         trust this CA certificate (PEM) for --tls
  --insecure        with --tls, do not verify the server's certificate
  --listen          keep running after stdin ends, until the server closes or Ctrl-C
  --help            show this help

When stdin ends (piped input), the client waits until the server has echoed every message
it sent and every /send has finished, then exits 0 (1 if the server refused any of them).`;

export function parseCliOptions(argv: readonly string[], env: NodeJS.ProcessEnv = {}): CliOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string' },
        port: { type: 'string' },
        name: { type: 'string' },
        room: { type: 'string' },
        downloads: { type: 'string' },
        raw: { type: 'boolean', default: false },
        tls: { type: 'boolean', default: false },
        ca: { type: 'string' },
        insecure: { type: 'boolean', default: false },
        listen: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }

  const host = values.host ?? nonEmpty(env.SWITCHBOARD_HOST) ?? '127.0.0.1';
  const portText = values.port ?? nonEmpty(env.SWITCHBOARD_PORT) ?? '9000';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) {
    throw new UsageError(`invalid port "${portText}": use a number from 1 to 65535`);
  }
  const name = values.name ?? nonEmpty(env.SWITCHBOARD_NAME);
  if (name !== undefined && !isValidName(name)) {
    throw new UsageError(`invalid name "${name}": use ${NAME_RULE}`);
  }
  const room = values.room;
  if (room !== undefined && !isValidName(room)) {
    throw new UsageError(`invalid room "${room}": use ${NAME_RULE}`);
  }
  if (!values.tls && (values.ca !== undefined || values.insecure)) {
    throw new UsageError('--ca and --insecure only apply with --tls');
  }
  return {
    host,
    port,
    name,
    room,
    downloads: values.downloads ?? 'downloads',
    raw: values.raw,
    tls: values.tls,
    ca: values.ca,
    insecure: values.insecure,
    listen: values.listen,
    help: values.help,
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}
