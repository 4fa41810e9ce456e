"""The Lua scripts of `RedisStore`: each one step done atomically inside Redis.

A stream `sid` is three keys sharing the hash tag `{sid}`:

- `<prefix>:{<sid>}:e`, a Redis Stream: one entry per run of frames appended
  together, `{a: first seq, f: the frames}`, with the explicit id `<last seq>-0`.
  The entry that ends the stream has the largest id Redis allows (`MAX`), so
  Redis itself refuses any later `XADD`: a producer that was declared dead (or
  stopped from another worker) and comes back cannot write another event.
- `<prefix>:{<sid>}:l`, the lease: the owner's token, `PX lease`, renewed every
  `lease / 4` by the worker producing the stream.
- `<prefix>:{<sid>}:w`, the set of the inboxes of the workers (other than the
  owner) that have readers on the stream, `PX` a few sweeps: while it exists the
  owner does not count the stream as abandoned.

A chat's latest answer (the AI SDK resumes by chat id) is `<prefix>:chat:<chat id>`,
holding the stream's id, with the running stream's `ttl` (renewed with its lease).

And one key per worker, `<prefix>:inbox:<worker>`, a Redis Stream too: every run
appended to a stream is also copied there for each worker following it
(`{s: sid, a, f, t: A or T}`), so a worker's tailer waits on ONE key however
many streams its readers follow. An inbox is trimmed (`MAXLEN ~`): a tailer that
falls that far behind sees a gap in a stream's seqs and reads it from the
stream itself, which is never trimmed.

Readers never need a lock: ids only grow, entries never change, and each reader
skips what it has already sent by seq.
"""

from __future__ import annotations

__all__ = ["COMMIT", "CREATE", "END", "INBOX_MAXLEN", "MAX_ID", "RENEW", "Keys"]

#: The id of the entry that ends a stream: nothing can be appended after it.
MAX_ID = "18446744073709551615-18446744073709551615"
#: Entries an inbox keeps (about): what its tailer may lag behind before it re-reads.
INBOX_MAXLEN = 20_000

_PRELUDE = f"""
local MAX = '{MAX_ID}'
local function copy(w, sid, a, f, kind)
  for _, inbox in ipairs(redis.call('SMEMBERS', w)) do
    redis.call('XADD', inbox, 'NOMKSTREAM', 'MAXLEN', '~', {INBOX_MAXLEN}, '*',
               's', sid, 'a', a, 'f', f, 't', kind)
  end
end
"""

#: KEYS e, l. ARGV handshake, token, lease ms, ttl ms. Returns 1, or 0 if the sid exists.
CREATE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('XADD', KEYS[1], '1-0', 'a', '1', 'f', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return 1
"""

#: The owner's group commit: one run of frames per stream, any number of streams.
#: KEYS (e, l, w) per stream; ARGV done_ttl ms, then (sid, kind, a, z, frames) per
#: stream, kind `A` (append, entry id z-0) or `T` (the run that ends the stream, entry
#: id MAX). Returns per stream: ok, fenced (someone else ended it), gone (expired or
#: flushed), conflict (a bug: a run that does not follow the last one).
COMMIT = (
    _PRELUDE
    + """
local out = {}
for i = 1, #KEYS / 3 do
  local e, l, w = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local n = 5 * i - 3
  local sid, kind, a, z, f = ARGV[n], ARGV[n + 1], ARGV[n + 2], ARGV[n + 3], ARGV[n + 4]
  local id = MAX
  if kind == 'A' then id = z .. '-0' end
  local added = redis.pcall('XADD', e, 'NOMKSTREAM', id, 'a', a, 'f', f)
  if not added then
    out[i] = 'gone'
  elseif type(added) == 'table' and added.err then
    -- Refused: either this very run was applied before (a retry), or the stream ended.
    local top = redis.call('XREVRANGE', e, '+', '-', 'COUNT', 1)[1]
    if top == nil then
      out[i] = 'gone'
    elseif top[1] == id and top[2][2] == a and (kind == 'A' or top[2][4] == f) then
      out[i] = 'ok'
    elseif top[1] == MAX then
      out[i] = 'fenced'
    else
      out[i] = 'conflict'
    end
  else
    out[i] = 'ok'
    copy(w, sid, a, f, kind)
    if kind == 'T' then
      redis.call('PEXPIRE', e, ARGV[1])
      redis.call('DEL', l)
    end
  end
end
return out
"""
)

#: The owner's lease renewal, every lease / 4, for all its streams at once.
#: KEYS (e, l, w) per stream; ARGV token, lease ms, ttl ms.
#: Returns per stream: read (a worker elsewhere has readers), idle, fenced, gone.
RENEW = (
    _PRELUDE
    + """
local out = {}
for i = 1, #KEYS / 3 do
  local e, l, w = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local top = redis.call('XREVRANGE', e, '+', '-', 'COUNT', 1)[1]
  if top == nil then
    out[i] = 'gone'
  elseif top[1] == MAX then
    out[i] = 'fenced'
  else
    redis.call('SET', l, ARGV[1], 'PX', ARGV[2])
    redis.call('PEXPIRE', e, ARGV[3])
    if redis.call('EXISTS', w) == 1 then out[i] = 'read' else out[i] = 'idle' end
  end
end
return out
"""
)

#: What any worker may do to streams it does not produce, for several at once.
#: mode `stop`: end the stream now. `follow`: end it only if its lease is gone (its
#: producer died), else add this worker's inbox to its followers (for `presence` ms).
#: `resume`: `follow` one stream, and read its first entries after a seq (the last
#: ARGV): a resume's probe and first catch-up read in one round trip.
#: KEYS (e, l, w) per stream; ARGV mode, done_ttl ms, presence ms, the bytes after the
#: seq of the ending frame, this worker's inbox, then the sid of each stream.
#: Returns (state, seq) per stream: gone (0), running (last seq), finished (final
#: seq), ended (the seq of the ending just written); then, to `resume`, the entries.
END = (
    _PRELUDE
    + """
local out = {}
local mode = ARGV[1]
if mode == 'resume' then mode = 'follow' end
for i = 1, #KEYS / 3 do
  local e, l, w = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  local sid = ARGV[5 + i]
  local top = redis.call('XREVRANGE', e, '+', '-', 'COUNT', 1)[1]
  if top == nil then
    out[2 * i - 1], out[2 * i] = 'gone', 0
  elseif top[1] == MAX then
    local _, frames = string.gsub(top[2][4], '\\n\\n', '')
    out[2 * i - 1], out[2 * i] = 'finished', tonumber(top[2][2]) + frames - 1
  else
    local last = tonumber(string.match(top[1], '^(%d+)'))
    if mode == 'peek' or (mode == 'follow' and redis.call('EXISTS', l) == 1) then
      if mode == 'follow' then
        redis.call('SADD', w, ARGV[5])
        redis.call('PEXPIRE', w, ARGV[3])
      end
      out[2 * i - 1], out[2 * i] = 'running', last
    else
      local seq = last + 1
      local frame = 'id: ' .. sid .. ':' .. seq .. ARGV[4]
      redis.call('XADD', e, MAX, 'a', seq, 'f', frame)
      copy(w, sid, seq, frame, 'T')
      redis.call('PEXPIRE', e, ARGV[2])
      redis.call('DEL', l, w)
      out[2 * i - 1], out[2 * i] = 'ended', seq
    end
  end
end
if ARGV[1] == 'resume' and out[1] ~= 'gone' then
  out[3] = redis.call('XRANGE', KEYS[1], '(' .. ARGV[7] .. '-0', '+', 'COUNT', ARGV[8])
end
return out
"""
)


class Keys:
    """The names of a stream's keys (and of a worker's inbox) under `prefix`."""

    __slots__ = ("prefix",)

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def stream(self, sid: str) -> str:
        return f"{self.prefix}:{{{sid}}}:e"

    def of(self, sid: str) -> tuple[str, str, str]:
        """The stream, the lease and the followers keys of `sid`."""
        base = f"{self.prefix}:{{{sid}}}:"
        return base + "e", base + "l", base + "w"

    def chat(self, chat: str) -> str:
        """The key holding the id of chat `chat`'s latest stream (the AI SDK's resume)."""
        return f"{self.prefix}:chat:{chat}"

    def inbox(self, worker: str) -> str:
        """A worker's inbox: copies of the runs appended to the streams it follows."""
        return f"{self.prefix}:inbox:{worker}"
