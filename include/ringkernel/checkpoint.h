/* ringkernel: checkpoints of an actor's state and queued messages.
 *
 * A checkpoint is one self-contained byte string: an actor's state bytes and
 * the messages waiting in its queue, as a full copy or as a delta against the
 * previous checkpoint of the same actor. The codec reads and writes caller
 * buffers only: it never allocates, keeps no global state and never blocks
 * (the file helpers at the end do I/O).
 *
 * ---- Format, version 1 -----------------------------------------------------
 *
 * Every integer is little-endian, written byte by byte (no struct is dumped).
 * Every checksum is CRC-32C (Castagnoli; the iSCSI/ext4 CRC, rk_crc32c).
 * A checkpoint is a 128-byte header, then the state section, then the
 * message section; each section starts at an offset that is a multiple of 8
 * and is followed by zero bytes up to the next multiple of 8.
 *
 *   off size  header field
 *     0   8   magic 89 52 4B 43 4B 50 54 0A ("\x89RKCKPT\n": a high-bit byte
 *             and a newline catch 7-bit and line-ending mangling)
 *     8   2   format version (1)
 *    10   2   header size in bytes (128), the header CRC being its last 4
 *    12   4   flags: bit 0 = delta; other bits are 0
 *    16   4   actor id                20   4   actor generation
 *    24   8   HLC timestamp (hlc.h)   32   8   sequence number of this checkpoint
 *    40   8   delta: sequence number of the base checkpoint (full: 0)
 *    48   8   state size in bytes after this checkpoint is applied
 *    56   8   delta: state size of the base (full: 0)
 *    64   4   CRC of the complete resulting state (state-size bytes)
 *    68   4   delta: CRC of the complete base state (full: 0)
 *    72   4   block size B of the delta bitmap (a power of two, 64 B..1 MiB)
 *    76   4   reserved (0)
 *    80   8   number of messages
 *    88   8   state section size       96   8   message section size
 *   104   4   state section CRC       108   4   message section CRC
 *   112   8   total size of the checkpoint, header and padding included
 *   120   4   reserved (0)            124   4   CRC of header bytes 0..123
 *
 * The first 12 bytes (magic, version, header size) and "the header CRC is the
 * header's last 4 bytes" are frozen for every version: any reader can tell a
 * damaged header (RK_EBADMSG) from an intact one of a newer version
 * (RK_ENOTSUP).
 *
 * State section, full: the state bytes. Delta: the state is cut into blocks
 * of B bytes (the last one may be shorter); a bitmap of one bit per block
 * (block i is bit i % 8 of byte i / 8), zero-padded to a multiple of 8 bytes,
 * is followed by the bytes of each block whose bit is set, in block order.
 * A block is carried when it differs from the base or is not wholly inside
 * the base (the state grew); a block the delta does not carry is taken from
 * the base. A shrunk state is the base's prefix with carried blocks applied.
 *
 * Message section: one record per message, in queue order: the 64-byte
 * rk_msg header (msg.h), field by field at the offsets of rk_msg, with `ref`
 * written as 0, then `len` payload bytes, then zeros to a multiple of 8. A
 * by-reference payload (RK_MSG_F_BYREF) is stored by value like an inline
 * one; the flag is kept, to say how the message travelled.
 *
 * Block size: 4 KiB by default. It is the page size, the unit in which a
 * runtime can track dirty state (write protection, UVM), and the bitmap then
 * costs 1 bit per 4 KiB (512 bytes for 16 MiB), so a delta of an unchanged
 * 16 MiB state is 640 bytes; a scattered write costs at most one block.
 * Smaller blocks shrink deltas of scattered small writes and grow the
 * bitmap; the encoder takes any power of two from 64 B to 1 MiB.
 *
 * ---- Statuses ----------------------------------------------------------------
 *
 *   RK_EBADMSG   damaged input: a checksum, the magic, a size, padding or a
 *                structure does not check out; also a truncated checkpoint
 *                or one with bytes after its end
 *   RK_ENOTSUP   an intact header of a newer format version, or with flags
 *                this version does not know
 *   RK_ESTALE    a delta applied to a state that is not its base (another
 *                sequence number, size or CRC, or bytes that differ)
 *   RK_E2BIG     a caller buffer is too small; the needed size is reported
 *   RK_EINVAL    bad arguments (NULL pointers, an invalid block size,
 *                overlapping buffers, a message whose payload is missing)
 *
 * Validation always completes before anything is written: a call that fails
 * leaves the caller's state untouched. */
#ifndef RINGKERNEL_CHECKPOINT_H
#define RINGKERNEL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "ringkernel/export.h"
#include "ringkernel/msg.h"
#include "ringkernel/status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RK_CHECKPOINT_VERSION 1u
#define RK_CHECKPOINT_HEADER_SIZE 128u
#define RK_CHECKPOINT_BLOCK_SIZE 4096u   /* default delta block */
#define RK_CHECKPOINT_BLOCK_MIN 64u
#define RK_CHECKPOINT_BLOCK_MAX (1u << 20)

enum rk_checkpoint_flags {
    RK_CHECKPOINT_F_DELTA = 1u << 0, /* the state section is a delta */
};

/* What to checkpoint. The codec only reads these buffers. */
typedef struct rk_checkpoint_src {
    rk_actor_id actor;
    uint32_t generation;
    uint64_t hlc;            /* when the state was captured */
    uint64_t seq;            /* this checkpoint's sequence number */
    uint32_t block_size;     /* delta granularity; 0 = RK_CHECKPOINT_BLOCK_SIZE */
    const void *state;       /* may be NULL when state_size is 0 */
    size_t state_size;
    /* Queued messages, oldest first, each as it sits in a queue slot: the
     * payload is read through rk_msg_payload() (inline after the header, or
     * at `ref` for RK_MSG_F_BYREF), so it must be host memory. */
    const rk_msg *const *msgs;
    size_t msg_count;
} rk_checkpoint_src;

/* The previous checkpoint a delta is encoded against. */
typedef struct rk_checkpoint_base {
    const void *state;       /* the base state bytes; may be NULL when size is 0 */
    size_t size;
    uint64_t seq;            /* the base checkpoint's sequence number */
    uint32_t crc;            /* its state_crc (rk_checkpoint_info), not recomputed */
} rk_checkpoint_base;

/* A checkpoint's header, as decoded, plus what validation counted. */
typedef struct rk_checkpoint_info {
    uint32_t version;
    uint32_t flags;          /* enum rk_checkpoint_flags */
    rk_actor_id actor;
    uint32_t generation;
    uint64_t hlc;
    uint64_t seq;
    uint64_t base_seq;       /* delta only, else 0 */
    uint64_t state_size;     /* after applying: the capacity a target needs */
    uint64_t base_state_size; /* delta only, else 0 */
    uint32_t state_crc;      /* CRC-32C of the complete resulting state */
    uint32_t base_state_crc; /* delta only, else 0 */
    uint32_t block_size;
    uint64_t blocks;         /* blocks of the resulting state */
    uint64_t blocks_carried; /* blocks whose bytes the checkpoint holds */
    uint64_t msg_count;
    uint32_t msg_max_len;    /* longest payload among the messages */
    uint64_t size;           /* encoded bytes */
} rk_checkpoint_info;

/* The caller's state buffer that a checkpoint is applied to. */
typedef struct rk_checkpoint_target {
    void *state;             /* cap bytes, owned by the caller */
    size_t cap;
    /* In: what the buffer holds now, i.e. the base for a delta (ignored for
     * a full checkpoint). Out, after RK_OK: the applied checkpoint's values,
     * so that the next delta of a chain applies to the same target. */
    size_t len;              /* bytes of state */
    uint64_t seq;            /* the checkpoint they came from */
    uint32_t crc;            /* its state_crc */
} rk_checkpoint_target;

/* Walks the messages of a checkpoint; see rk_checkpoint_msgs_begin. */
typedef struct rk_checkpoint_msg_iter {
    const unsigned char *at, *end;
    uint64_t left;
} rk_checkpoint_msg_iter;

/* ---- CRC-32C ------------------------------------------------------------------ */

/* Extends the CRC-32C `crc` of earlier bytes with data[0..n): start with 0;
 * rk_crc32c(rk_crc32c(0, a, n), b, m) equals the CRC of a then b. data may
 * be NULL when n is 0. Table-driven, 8 bytes per step. */
RK_API uint32_t rk_crc32c(uint32_t crc, const void *data, size_t n);

/* ---- encoding ------------------------------------------------------------------ */

/* The exact encoded size of a full checkpoint of `src` (base NULL) or of a
 * delta against `base`, into *size. A delta's size depends on which blocks
 * changed, so this compares src->state with base->state. RK_OK, RK_EINVAL. */
RK_API rk_status rk_checkpoint_size(const rk_checkpoint_src *src, const rk_checkpoint_base *base,
                                    size_t *size);

/* Encodes a full checkpoint of `src` (base NULL) or a delta against `base`
 * into buf[0..cap), and its length into *len. info (may be NULL) gets the
 * checkpoint's header; its state_crc is the base crc for the next delta.
 * base->crc is trusted: a wrong one yields a delta that every apply refuses
 * with RK_ESTALE, never a wrong state. RK_OK; RK_E2BIG with the needed size
 * in *len (buf then holds garbage); RK_EINVAL. */
RK_API rk_status rk_checkpoint_encode(const rk_checkpoint_src *src, const rk_checkpoint_base *base,
                                      void *buf, size_t cap, size_t *len, rk_checkpoint_info *info);

/* ---- decoding and restoring ---------------------------------------------------- */

/* Validates buf[0..len) as a checkpoint - every checksum, size and record -
 * without applying it, and fills *info (may be NULL). A delta's resulting
 * state can only be checked against its base, by rk_checkpoint_apply.
 * RK_OK, RK_EBADMSG, RK_ENOTSUP, RK_EINVAL. */
RK_API rk_status rk_checkpoint_decode(const void *buf, size_t len, rk_checkpoint_info *info);

/* Applies the checkpoint buf[0..len) to `target`: a full one replaces its
 * state, a delta updates the base state the target holds. Everything is
 * checked first - the checkpoint as by rk_checkpoint_decode, that the target
 * has room, for a delta that the target holds its base (seq, size, crc), and
 * the CRC of the resulting state - and only then is target->state written;
 * on any failure the target is untouched. On RK_OK target->len, seq and crc
 * describe the new state. info (may be NULL) is filled once the checkpoint
 * is found intact, so on RK_E2BIG info->state_size is the capacity needed.
 * RK_OK, RK_EBADMSG, RK_ENOTSUP, RK_ESTALE, RK_E2BIG, RK_EINVAL (also when
 * the target overlaps buf, or for a delta when target->len > target->cap). */
RK_API rk_status rk_checkpoint_apply(const void *buf, size_t len, rk_checkpoint_target *target,
                                     rk_checkpoint_info *info);

/* Starts a walk over the queued messages of the checkpoint buf[0..len),
 * after validating all of it as rk_checkpoint_decode does: the messages of
 * a checkpoint whose state is damaged are not restored either. The walk
 * points into buf, which must stay unchanged while it is used. RK_OK,
 * RK_EBADMSG, RK_ENOTSUP, RK_EINVAL. */
RK_API rk_status rk_checkpoint_msgs_begin(const void *buf, size_t len, rk_checkpoint_msg_iter *it);

/* The next message: its header into *hdr (with ref = 0; RK_MSG_F_BYREF as it
 * was captured) and its payload, hdr->len bytes inside buf at an offset that
 * is a multiple of 8, into *payload. RK_OK, RK_ENOTFOUND after the last,
 * RK_EINVAL. */
RK_API rk_status rk_checkpoint_msgs_next(rk_checkpoint_msg_iter *it, rk_msg *hdr, const void **payload);

/* ---- files ----------------------------------------------------------------------- */

/* Writes buf[0..len) to `path` atomically: into a new temporary file in the
 * same directory, fsync, rename over `path`, fsync of the directory. A crash
 * leaves the old file or the new one, never a mix; on failure the temporary
 * file is removed (only a failing fsync of the directory comes after the
 * rename: the new file is then in place but may not survive a crash). The
 * file is readable by its owner only. Blocks on I/O. *os_error (may be NULL)
 * gets the errno of a failure, else 0. RK_OK; RK_EINVAL (NULL, empty or
 * overlong path, or a directory there); RK_ENOTFOUND (no such directory);
 * RK_E2BIG (no space, quota, file size limit); RK_ENOMEM; RK_EDEVICE for any
 * other I/O error, permissions included (see *os_error). */
RK_API rk_status rk_checkpoint_write_file(const char *path, const void *buf, size_t len, int *os_error);

/* Reads the file at `path` into buf[0..cap) and its length into *len; does
 * not validate it (rk_checkpoint_decode or _apply do). RK_E2BIG with the file
 * size in *len if it does not fit (cap 0 and buf NULL ask for the size).
 * RK_ENOTFOUND if there is no such file; RK_EINVAL (NULL arguments, not a
 * regular file); RK_ENOMEM; RK_EDEVICE for other I/O errors. *os_error as
 * for rk_checkpoint_write_file. Blocks on I/O. */
RK_API rk_status rk_checkpoint_read_file(const char *path, void *buf, size_t cap, size_t *len,
                                         int *os_error);

#ifdef __cplusplus
}
#endif

#endif
