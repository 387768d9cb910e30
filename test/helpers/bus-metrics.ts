/** switchboard_cluster_bus_messages_total{direction="in"} on a gateway's /metrics: what it heard from the bus (issue 25's measure of routing by interest). */
export async function busIn(gateway: { httpUrl: string }): Promise<number> {
  const text = await (await fetch(`${gateway.httpUrl}/metrics`)).text();
  const line = /^switchboard_cluster_bus_messages_total\{direction="in"\} (\d+)$/m.exec(text);
  if (line === null) throw new Error('no switchboard_cluster_bus_messages_total{direction="in"} in /metrics');
  return Number(line[1]);
}
