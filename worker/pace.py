"""One model's shared pace and circuit breaker, in Redis: transient counters, never conversation state.

Every worker process and host asks the same Redis before it sends a model call, so N processes together
keep the project's quota. Gemini counts requests (and input tokens) per project and model over a minute,
and answers 429 with a `retryDelay` until its window has room again; so the pace is a sliding window: at
most `GEMINI_RPM` calls (and `GEMINI_TPM` estimated input tokens) in any window of the minute plus 2% (the
2% absorbs the jitter between our send times and the provider's arrival times). Under the quota a call
goes at once; a burst beyond it waits for the window to slide.

A call *reserves* its send time in one atomic script: the earliest time the window has room, and never
before a reservation made earlier, so reservations are first come, first served and nobody starves; a
waiting run keeps its place while it sleeps and confirms just before it sends. A provider 429 pauses the
pace until its `retryDelay`: every reservation still waiting moves back by the same amount, order and
spacing kept. A per-day quota closes the model until the provider's delay (answered at once, no request).

The breaker counts consecutive failures (5xx, timeouts, lost connections) across all workers. At the
threshold it opens: that is a pause for its cooldown; then the first caller is the probe and everyone
else holds until the probe's outcome closes it (spacing restored from then) or reopens it for twice as long.
"""

from dataclasses import dataclass

import redis.asyncio as aredis

# KEYS: state hash, waiting zset (member -> its reserved send time, ms), log zset (the reservations of
# the last window: member "seq:tokens" -> its time). ARGV: command, member, cost (tokens), max wait ms,
# delay ms, requests per window (0: no limit), tokens per window (0: no limit), window ms, breaker
# threshold, breaker cooldown ms, probe lease ms. Returns {kind, wait ms, member, breaker, fails, probe,
# reason}.
_SCRIPT = """
local state, pending, log = KEYS[1], KEYS[2], KEYS[3]
local cmd, member = ARGV[1], ARGV[2]
local cost, max_wait, delay = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local limit, token_limit, window = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8])
local threshold, base_cooldown, probe_ms = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local paced = limit > 0 or token_limit > 0
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + tonumber(clock[2]) / 1000
local s = {}
local raw = redis.call('HGETALL', state)
for i = 1, #raw, 2 do s[raw[i]] = raw[i + 1] end
local function num(name) return tonumber(s[name] or '0') end
local function set(name, value)
  if type(value) == 'number' then value = string.format('%.3f', value) end
  s[name] = value
  redis.call('HSET', state, name, value)
end
local breaker = s['breaker'] or 'closed'

-- Move every waiting reservation by delta ms: order and spacing kept, and the window only gets roomier.
local function shift(delta)
  if delta <= 0 then return end
  local waiting = redis.call('ZRANGE', pending, 0, -1, 'WITHSCORES')
  for i = 1, #waiting, 2 do
    local at = tonumber(waiting[i + 1]) + delta
    redis.call('ZADD', pending, at, waiting[i])
    redis.call('ZADD', log, 'XX', at, waiting[i])
  end
end
local function first_waiting()
  local first = redis.call('ZRANGE', pending, 0, 0, 'WITHSCORES')
  if #first == 0 then return nil end
  return tonumber(first[2])
end
local function pause_until(ends)
  if ends > num('pause') then set('pause', ends) end
  local first = first_waiting()
  if first then shift(ends - first) end
end
local function open(cooldown)
  breaker = 'open'
  set('breaker', 'open'); set('open_until', now + cooldown); set('cooldown', cooldown); set('fails', 0)
  pause_until(now + cooldown)
end
local function close()
  breaker = 'closed'
  set('breaker', 'closed'); set('fails', 0); set('probe', '')
  -- Those who held for the probe go from now on, spaced as they were, not all at once.
  local first = first_waiting()
  if first then shift(now - first) end
end
-- May a call go now? 0: yes (perhaps as the probe); otherwise ms to wait before asking again.
local function gate()
  if breaker == 'open' then
    if now < num('open_until') then return num('open_until') - now end
    breaker = 'half'
    set('breaker', 'half'); set('probe', member); set('probe_until', now + probe_ms)
  elseif breaker == 'half' and s['probe'] ~= member then
    if num('probe_until') > now then return math.min(num('probe_until') - now, 250) end
    set('probe', member); set('probe_until', now + probe_ms)  -- the last probe's caller is gone
  end
  return 0
end
-- The earliest time from `at` on that the window has room for one more call of `cost` tokens.
local function room(at)
  local n = redis.call('ZCARD', log)
  if n == 0 then return at end
  at = math.max(at, tonumber(redis.call('ZRANGE', log, -1, -1, 'WITHSCORES')[2]))  -- first come, first served
  if limit > 0 and n >= limit then
    at = math.max(at, tonumber(redis.call('ZRANGE', log, n - limit, n - limit, 'WITHSCORES')[2]) + window)
  end
  if token_limit > 0 then
    local entries, used = redis.call('ZRANGE', log, 0, -1, 'WITHSCORES'), cost
    for i = #entries - 1, 1, -2 do
      used = used + tonumber(string.match(entries[i], ':(%d+)$'))
      if used > token_limit then
        at = math.max(at, tonumber(entries[i + 1]) + window)
        break
      end
    end
  end
  return at
end
local function reply(kind, wait)
  for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, 86400000) end
  local reason = 'pace'
  if breaker ~= 'closed' then reason = 'unavailable' elseif num('pause') > now then reason = 'paused' end
  local probe = 0
  if breaker == 'half' and s['probe'] == member then probe = 1 end
  return {kind, math.ceil(math.max(wait, 0)), member, breaker, num('fails'), probe, reason}
end

if cmd == 'acquire' then
  redis.call('ZREMRANGEBYSCORE', pending, '-inf', now - 600000)  -- ten minutes overdue: its caller is gone
  if num('day') > now then return reply('day', num('day') - now) end
  local at = math.max(now, num('pause'))
  if paced then
    redis.call('ZREMRANGEBYSCORE', log, '-inf', now - window)
    at = room(at)
  end
  if at - now > max_wait then return reply('full', at - now) end
  member = redis.call('HINCRBY', state, 'seq', 1) .. ':' .. cost
  if paced then redis.call('ZADD', log, at, member) end
  if at > now then
    redis.call('ZADD', pending, at, member)
    return reply('wait', at - now)
  end
  local wait = gate()
  if wait > 0 then
    redis.call('ZADD', pending, now, member)
    return reply('wait', wait)
  end
  return reply('go', 0)
elseif cmd == 'confirm' then
  if num('day') > now then
    redis.call('ZREM', pending, member)
    return reply('day', num('day') - now)
  end
  local at = redis.call('ZSCORE', pending, member)
  if at and tonumber(at) > now then return reply('wait', tonumber(at) - now) end
  local wait = gate()
  if wait > 0 then return reply('wait', wait) end
  redis.call('ZREM', pending, member)
  return reply('go', 0)
elseif cmd == 'ok' then
  if breaker ~= 'closed' and (breaker == 'open' or s['probe'] == member) then close()
  elseif num('fails') > 0 then set('fails', 0) end
  return reply('ok', 0)
elseif cmd == 'fail' then
  if breaker == 'half' and s['probe'] == member then
    open(math.min(math.max(num('cooldown'), base_cooldown) * 2, base_cooldown * 8))
  elseif breaker == 'closed' then
    set('fails', num('fails') + 1)
    if num('fails') >= threshold then open(base_cooldown) end
  end
  return reply('ok', 0)
elseif cmd == 'limited' then
  if breaker == 'half' and s['probe'] == member then close() end  -- it answered: it is up, if busy
  pause_until(now + delay)
  return reply('ok', 0)
elseif cmd == 'day' then
  if breaker == 'half' and s['probe'] == member then close() end
  if now + delay > num('day') then set('day', now + delay) end
  return reply('ok', 0)
elseif cmd == 'release' then
  -- Not sent after all: its place in the window is free again.
  redis.call('ZREM', pending, member)
  redis.call('ZREM', log, member)
  if breaker == 'half' and s['probe'] == member then set('probe_until', 0) end
  return reply('ok', 0)
end
return redis.error_reply('pace: unknown command ' .. cmd)
"""

# The provider counts its minute on its own clock, from the arrival of each request: a window 2% longer
# (1.2 s over a minute) absorbs our scheduling jitter and the network's.
HEADROOM = 1.02


@dataclass(frozen=True)
class Grant:
    kind: str  # go | wait | full (the wait would exceed the budget) | day (daily quota used up) | ok
    wait_s: float
    member: str
    breaker: str  # closed | open | half
    fails: int
    probe: bool
    reason: str  # why a wait: pace | paused (a provider 429) | unavailable (the breaker)

    @property
    def clean(self) -> bool:
        """Nothing to tell the breaker about a success."""
        return self.breaker == "closed" and not self.fails and not self.probe


class Pace:
    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        model: str,
        *,
        rpm: int | None,
        tpm: int | None,
        window_s: float = 60.0,
        breaker_failures: int,
        breaker_cooldown_s: float,
        probe_lease_s: float,
    ) -> None:
        self.model = model
        self.keys = [f"{prefix}:gemini:{model}:{part}" for part in ("pace", "waiting", "log")]
        self.counts_tokens = bool(tpm)
        self.config = [
            rpm or 0,
            tpm or 0,
            window_s * HEADROOM * 1000,
            breaker_failures,
            breaker_cooldown_s * 1000,
            probe_lease_s * 1000,
        ]
        self._script = client.register_script(_SCRIPT)

    async def _call(
        self, command: str, member: str = "", *, cost: int = 0, max_wait_s: float = 0.0, delay_s: float = 0.0
    ) -> Grant:
        args = [command, member, cost, max_wait_s * 1000, delay_s * 1000, *self.config]
        kind, wait_ms, member, breaker, fails, probe, reason = await self._script(keys=self.keys, args=args)
        return Grant(
            _text(kind),
            int(wait_ms) / 1000,
            _text(member),
            _text(breaker),
            int(fails),
            bool(int(probe)),
            _text(reason),
        )

    async def acquire(self, *, cost: int, max_wait_s: float) -> Grant:
        """Reserve the next send time (`go` now, or `wait` and then `confirm`)."""
        return await self._call("acquire", cost=cost, max_wait_s=max_wait_s)

    async def confirm(self, member: str) -> Grant:
        """Just before sending a reserved call: `go`, or `wait` more (a pause moved it, or a probe is out)."""
        return await self._call("confirm", member)

    async def release(self, member: str) -> Grant:
        """A reserved call that will not be sent (its run gave up or was cancelled)."""
        return await self._call("release", member)

    async def succeeded(self, member: str) -> Grant:
        return await self._call("ok", member)

    async def failed(self, member: str) -> Grant:
        """A 5xx, a timeout or a lost connection: one more towards opening the breaker."""
        return await self._call("fail", member)

    async def limited(self, member: str, delay_s: float) -> Grant:
        """A 429 with the provider's retry delay: nobody sends before it has passed."""
        return await self._call("limited", member, delay_s=delay_s)

    async def day_closed(self, member: str, delay_s: float) -> Grant:
        """The daily quota is used up: calls fail at once, without a request, for `delay_s`."""
        return await self._call("day", member, delay_s=delay_s)


def _text(value: bytes | str | int) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
