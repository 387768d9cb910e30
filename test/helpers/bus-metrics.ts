/** switchboard_cluster_bus_messages_total{direction="in"} on a gateway's /metrics: what it heard from the bus (issue 25's measure of routing by interest). */
export async function busIn(gateway: { httpUrl: string }): Promise<number> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const line = /^switchboard_cluster_bus_messages_total\{direction="in"\} (\d+)$/m.exec(text);
  if (line === null) throw new Error('no switchboard_cluster_bus_messages_total{direction="in"} in /metrics');
  return Number(line[1]);
}

/** switchboard_errors_sent_total{code} on a gateway's /metrics: error frames it sent with that code (0 when none yet). */
export async function errorsSent(gateway: { httpUrl: string }, code: string): Promise<number> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  if (!text.includes('switchboard_errors_sent_total')) throw new Error(`no switchboard_errors_sent_total in /metrics:\n${text.slice(0, 300)}`);
  const line = new RegExp(`^switchboard_errors_sent_total\\{code="${code}"\\} (\\d+)$`, 'm').exec(text);
  return line === null ? 0 : Number(line[1]);
}
