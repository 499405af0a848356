package engines

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"dokploy/db"
)

// Ready asks the engine listening on addr whether it accepts connections,
// the way pg_isready, mysqladmin ping, a Mongo ping and redis-cli ping do:
// without credentials, so it keeps working after a password change and in
// any image (the probe binary is mounted into the container). A server
// that answers "starting up" or "loading" is not ready yet.
func Ready(ctx context.Context, engine, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	switch engine {
	case db.EnginePostgres:
		return postgresReady(conn)
	case db.EngineMySQL, db.EngineMariaDB:
		return mysqlReady(conn)
	case db.EngineMongo:
		return mongoReady(conn)
	case db.EngineRedis:
		return redisReady(conn)
	}
	return fmt.Errorf("unknown engine %q", engine)
}

// postgresReady sends a startup message: any authentication request means
// the server accepts connections; an error other than "starting up",
// "shutting down" or "in recovery" (SQLSTATE 57P03) also does, as for
// pg_isready (a wrong user is still a running server).
func postgresReady(conn net.Conn) error {
	params := "user\x00dokploy_probe\x00database\x00postgres\x00\x00"
	msg := make([]byte, 8+len(params))
	binary.BigEndian.PutUint32(msg[0:4], uint32(len(msg)))
	binary.BigEndian.PutUint32(msg[4:8], 196608) // protocol 3.0
	copy(msg[8:], params)
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	head := make([]byte, 5)
	if _, err := io.ReadFull(conn, head); err != nil {
		return fmt.Errorf("no answer to the startup message: %w", err)
	}
	switch head[0] {
	case 'R':
		return nil
	case 'E':
		n := int(binary.BigEndian.Uint32(head[1:5])) - 4
		if n < 0 || n > 64<<10 {
			return errors.New("malformed error message")
		}
		body := make([]byte, n)
		if _, err := io.ReadFull(conn, body); err != nil {
			return err
		}
		for _, field := range bytes.Split(body, []byte{0}) {
			if len(field) > 1 && field[0] == 'C' && string(field[1:]) == "57P03" {
				return errors.New("the server is starting up or shutting down")
			}
		}
		return nil
	}
	return fmt.Errorf("unexpected answer %q", head[0])
}

// mysqlReady reads the server's greeting: a handshake packet (protocol 10)
// means it accepts connections; an error packet is a refusal such as "too
// many connections", which mysqladmin ping also counts as alive — except
// while the server is still starting.
func mysqlReady(conn net.Conn) error {
	head := make([]byte, 4)
	if _, err := io.ReadFull(conn, head); err != nil {
		return fmt.Errorf("no greeting: %w", err)
	}
	n := int(head[0]) | int(head[1])<<8 | int(head[2])<<16
	if n == 0 || n > 64<<10 {
		return errors.New("malformed greeting")
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(conn, body); err != nil {
		return err
	}
	switch body[0] {
	case 10:
		return nil
	case 0xff:
		if strings.Contains(strings.ToLower(string(body)), "starting") {
			return errors.New("the server is starting up")
		}
		return nil
	}
	return fmt.Errorf("unexpected greeting (protocol %d)", body[0])
}

// mongoReady sends {ping: 1} to the admin database as an OP_MSG, which
// needs no authentication, and wants ok: 1 back.
func mongoReady(conn net.Conn) error {
	doc := bsonDoc(bsonInt32("ping", 1), bsonString("$db", "admin"))
	body := append([]byte{0, 0, 0, 0, 0}, doc...) // flagBits, section kind 0
	msg := make([]byte, 16, 16+len(body))
	binary.LittleEndian.PutUint32(msg[0:4], uint32(16+len(body)))
	binary.LittleEndian.PutUint32(msg[4:8], 1)      // requestID
	binary.LittleEndian.PutUint32(msg[12:16], 2013) // OP_MSG
	msg = append(msg, body...)
	if _, err := conn.Write(msg); err != nil {
		return err
	}
	head := make([]byte, 16)
	if _, err := io.ReadFull(conn, head); err != nil {
		return fmt.Errorf("no answer to ping: %w", err)
	}
	n := int(binary.LittleEndian.Uint32(head[0:4])) - 16
	if n <= 0 || n > 1<<20 {
		return errors.New("malformed reply")
	}
	reply := make([]byte, n)
	if _, err := io.ReadFull(conn, reply); err != nil {
		return err
	}
	// ok is a double 1.0 (or int32 1) in the reply document.
	okDouble := append([]byte{0x01, 'o', 'k', 0}, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f)
	okInt := []byte{0x10, 'o', 'k', 0, 1, 0, 0, 0}
	if bytes.Contains(reply, okDouble) || bytes.Contains(reply, okInt) {
		return nil
	}
	return errors.New("ping did not answer ok")
}

func bsonDoc(elems ...[]byte) []byte {
	body := bytes.Join(elems, nil)
	out := make([]byte, 4, 4+len(body)+1)
	binary.LittleEndian.PutUint32(out, uint32(4+len(body)+1))
	return append(append(out, body...), 0)
}

func bsonInt32(key string, v int32) []byte {
	out := append([]byte{0x10}, key...)
	out = append(out, 0)
	return binary.LittleEndian.AppendUint32(out, uint32(v))
}

func bsonString(key, v string) []byte {
	out := append([]byte{0x02}, key...)
	out = append(out, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(len(v)+1))
	return append(append(out, v...), 0)
}

// redisReady sends PING: PONG, or NOAUTH from a server with a password,
// means ready; LOADING (the dataset is being read) means not yet.
func redisReady(conn net.Conn) error {
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(io.LimitReader(conn, 4096)).ReadString('\n')
	if err != nil {
		return fmt.Errorf("no answer to PING: %w", err)
	}
	line = strings.TrimSpace(line)
	switch {
	case line == "+PONG", strings.HasPrefix(line, "-NOAUTH"), strings.HasPrefix(line, "-WRONGPASS"):
		return nil
	case strings.HasPrefix(line, "-LOADING"):
		return errors.New("redis is loading its dataset")
	}
	return fmt.Errorf("unexpected answer %q", line)
}
