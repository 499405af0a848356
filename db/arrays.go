package db

import "github.com/lib/pq"

func pqIntArray(v []int) interface{} {
	out := make(pq.Int64Array, len(v))
	for i, n := range v {
		out[i] = int64(n)
	}
	return out
}

func pqStringArray(v []string) interface{} { return pq.StringArray(v) }

func pqInt64Array(v []int64) interface{} { return pq.Int64Array(v) }
