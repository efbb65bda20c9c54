// A js-libp2p dialer whose "yamux" is a raw pipe, for sdnetd's robustness
// tests: js-libp2p does TCP, multistream-select and Noise (so the frames
// reach sdnetd's muxer authenticated and encrypted, as a real peer's would),
// and the test driver writes whatever yamux frames it likes, well-formed or
// not, and sees every byte sdnetd sends back.
//
// Prints {"event":"ready","peerId":..} and then takes JSON lines on stdin:
//   {"cmd":"dial","addr":"/ip4/127.0.0.1/tcp/N/p2p/12D3..."}
//        -> {"ok":true,"peer":..} once the connection is upgraded
//   {"cmd":"send","hex":"..."}          -> queue raw bytes towards sdnetd
//   {"cmd":"repeat","hex":"...","times":N}  -> queue the bytes N times
//   {"cmd":"pause"} / {"cmd":"resume"}  -> stop / restart reading from sdnetd
//        (what is unread backs up into TCP: a peer that stops reading)
//   {"cmd":"quit"}
// and reports {"event":"rx","hex":..} for every chunk sdnetd sent and
// {"event":"rx-end","error":..} when its side of the connection ended.
// A command may carry "id"; the answer repeats it. Loopback only.
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { multiaddr } from '@multiformats/multiaddr'
import readline from 'node:readline'

const out = (o) => process.stdout.write(JSON.stringify(o) + '\n')

// Bytes waiting to go to sdnetd, and whoever waits for the next ones.
class Queue {
  constructor () { this.items = []; this.waiter = null; this.ended = false }
  push (b) { this.items.push(b); this.wake() }
  end () { this.ended = true; this.wake() }
  wake () { if (this.waiter) { const w = this.waiter; this.waiter = null; w() } }
  async * [Symbol.asyncIterator] () {
    for (;;) {
      if (this.items.length > 0) { yield this.items.shift(); continue }
      if (this.ended) return
      await new Promise((resolve) => { this.waiter = resolve })
    }
  }
}

let current = null // the raw muxer of the one connection we dial

class RawMuxer {
  constructor () {
    this.protocol = '/yamux/1.0.0'
    this.streams = []
    this.tx = new Queue()
    this.source = this.tx[Symbol.asyncIterator]()
    this.paused = null // a promise while reading is paused
    this.resumeFn = null
    current = this
  }

  sink = async (source) => {
    try {
      for await (const chunk of source) {
        const bytes = chunk.subarray ? chunk.subarray() : chunk
        out({ event: 'rx', hex: Buffer.from(bytes).toString('hex') })
        if (this.paused) await this.paused
      }
      out({ event: 'rx-end', error: null })
    } catch (err) {
      out({ event: 'rx-end', error: String(err?.message ?? err) })
    }
  }

  pause () {
    if (!this.paused) this.paused = new Promise((resolve) => { this.resumeFn = resolve })
  }

  resume () {
    if (this.resumeFn) this.resumeFn()
    this.paused = null
    this.resumeFn = null
  }

  async newStream () { throw new Error('raw yamux: no streams') }
  async close () { this.tx.end() }
  abort () { this.tx.end() }
}

const node = await createLibp2p({
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [() => ({ protocol: '/yamux/1.0.0', createStreamMuxer: () => new RawMuxer() })],
  connectionMonitor: { enabled: false },
})

out({ event: 'ready', peerId: node.peerId.toString() })

const commands = {
  async dial (c) {
    const conn = await node.dial(multiaddr(c.addr))
    return { peer: conn.remotePeer.toString() }
  },
  async send (c) {
    current.tx.push(Buffer.from(c.hex, 'hex'))
    return {}
  },
  async repeat (c) {
    const b = Buffer.from(c.hex, 'hex')
    current.tx.push(Buffer.concat(Array.from({ length: c.times }, () => b)))
    return {}
  },
  async pause () { current.pause(); return {} },
  async resume () { current.resume(); return {} },
  async quit () {
    setImmediate(async () => { await node.stop(); process.exit(0) })
    return {}
  },
}

process.on('unhandledRejection', (err) => {
  out({ event: 'unhandled', error: String(err?.message ?? err) })
})

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', async (line) => {
  let c
  try { c = JSON.parse(line) } catch { return out({ ok: false, error: 'bad json' }) }
  const fn = commands[c.cmd]
  if (!fn) return out({ ok: false, id: c.id, error: `unknown command ${c.cmd}` })
  try {
    out({ ok: true, cmd: c.cmd, id: c.id, ...(await fn(c)) })
  } catch (err) {
    out({ ok: false, cmd: c.cmd, id: c.id, error: String(err?.message ?? err) })
  }
})
rl.on('close', async () => { await node.stop(); process.exit(0) })
