package docroot

import (
	"os"
	"sync"
	"time"

	"github.com/gatewayd/gatewayd/internal/setting"
)

// The defaults of a Cache: the fastcgi app's lookup_cache_size and
// lookup_cache_ttl.
const (
	DefaultCacheSize = 1024
	DefaultCacheTTL  = time.Second
	// maxCachedPath is the longest PATH_INFO a Cache keeps, so that its
	// memory is bounded by its size and not by what clients send.
	maxCachedPath = 256
)

// Cache remembers, for a short time, which script a path resolved to, so
// that a busy route does not look its script up in the file system on
// every request (a stat per path segment, the daemon's costliest call
// after the sockets'). It is nginx's open_file_cache for this lookup:
// an entry lives ttl after it was made, whether used or not, so a script
// that is removed or renamed goes on being named to the upstream for at
// most ttl (which then answers 404 itself, as php-fpm does for a missing
// script), and a new one is seen at once, because only lookups that found
// a script are kept. Paths over 256 bytes are never kept. It is safe for
// concurrent use.
type Cache struct {
	lookup Lookup
	root   *os.Root
	size   int
	ttl    time.Duration

	mu sync.Mutex
	m  map[string]cached
}

type cached struct {
	t     Target
	until time.Time
}

// NewCache returns a cache of at most size lookups under root, each kept
// for ttl. A size or ttl of 0 takes the default; a negative one turns the
// cache off (every Resolve looks the path up).
func NewCache(l Lookup, root *os.Root, size int, ttl time.Duration) *Cache {
	size = setting.Or(size, DefaultCacheSize)
	ttl = setting.Or(ttl, DefaultCacheTTL)
	c := &Cache{lookup: l, root: root, size: size, ttl: ttl}
	if size > 0 && ttl > 0 {
		c.m = make(map[string]cached, min(size, 64))
	}
	return c
}

// Resolve is Lookup.Resolve, from the cache when a fresh entry is there.
func (c *Cache) Resolve(pathInfo string) Target {
	if c.m == nil || len(pathInfo) > maxCachedPath {
		return c.lookup.Resolve(c.root, pathInfo)
	}
	now := time.Now()
	c.mu.Lock()
	e, ok := c.m[pathInfo]
	c.mu.Unlock()
	if ok && now.Before(e.until) {
		return e.t
	}
	t := c.lookup.Resolve(c.root, pathInfo)
	if t.Script == "" {
		// An error, a redirect or a file: not kept, so a script that
		// appears is run at once and nothing but scripts fills the map.
		return t
	}
	c.mu.Lock()
	if len(c.m) >= c.size {
		c.evict(now)
	}
	c.m[pathInfo] = cached{t: t, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return t
}

// evict makes room: the expired entries go, or, when all are fresh (more
// distinct scripts in one ttl than the cache holds), all of them, which
// keeps the bound without the bookkeeping of an LRU list. Called with mu
// held.
func (c *Cache) evict(now time.Time) {
	for k, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, k)
		}
	}
	if len(c.m) >= c.size {
		clear(c.m)
	}
}

// Len returns the number of lookups kept, for tests.
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
