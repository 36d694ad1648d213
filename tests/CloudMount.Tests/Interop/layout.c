/* Prints sizes, field offsets and bitfield masks of the libfuse3 and glibc structs that
   src/CloudMount.Linux/Interop binds, one "name value" per line. Built and run by LayoutTests.cs. */
#define FUSE_USE_VERSION 312
#define _FILE_OFFSET_BITS 64
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define SIZE(t) printf("sizeof %s %zu\n", #t, sizeof(t))
#define OFF(t, f) printf("offset %s.%s %zu\n", #t, #f, offsetof(t, f))

static unsigned bits_of(struct fuse_file_info *fi) { unsigned w; memcpy(&w, (char *)fi + sizeof(int), sizeof w); return w; }
#define BIT(f) do { struct fuse_file_info fi; memset(&fi, 0, sizeof fi); fi.f = 1; printf("bit fuse_file_info.%s %u\n", #f, bits_of(&fi)); } while (0)
#define OP(f) printf("offset struct fuse_lowlevel_ops.%s %zu\n", #f, offsetof(struct fuse_lowlevel_ops, f))

int main(void) {
  SIZE(struct stat); OFF(struct stat, st_dev); OFF(struct stat, st_ino); OFF(struct stat, st_nlink); OFF(struct stat, st_mode);
  OFF(struct stat, st_uid); OFF(struct stat, st_gid); OFF(struct stat, st_rdev); OFF(struct stat, st_size); OFF(struct stat, st_blksize);
  OFF(struct stat, st_blocks); OFF(struct stat, st_atim); OFF(struct stat, st_mtim); OFF(struct stat, st_ctim);
  SIZE(struct timespec); OFF(struct timespec, tv_sec); OFF(struct timespec, tv_nsec);
  SIZE(struct fuse_entry_param); OFF(struct fuse_entry_param, ino); OFF(struct fuse_entry_param, generation); OFF(struct fuse_entry_param, attr);
  OFF(struct fuse_entry_param, attr_timeout); OFF(struct fuse_entry_param, entry_timeout);
  SIZE(struct fuse_file_info); OFF(struct fuse_file_info, flags); OFF(struct fuse_file_info, fh); OFF(struct fuse_file_info, lock_owner);
  OFF(struct fuse_file_info, poll_events);
  BIT(writepage); BIT(direct_io); BIT(keep_cache); BIT(flush); BIT(nonseekable); BIT(flock_release); BIT(cache_readdir); BIT(noflush);
  SIZE(struct fuse_conn_info); OFF(struct fuse_conn_info, proto_major); OFF(struct fuse_conn_info, proto_minor); OFF(struct fuse_conn_info, max_write);
  OFF(struct fuse_conn_info, max_read); OFF(struct fuse_conn_info, max_readahead); OFF(struct fuse_conn_info, capable); OFF(struct fuse_conn_info, want);
  OFF(struct fuse_conn_info, max_background); OFF(struct fuse_conn_info, congestion_threshold); OFF(struct fuse_conn_info, time_gran);
  SIZE(struct fuse_args); OFF(struct fuse_args, argc); OFF(struct fuse_args, argv); OFF(struct fuse_args, allocated);
  SIZE(struct fuse_ctx); OFF(struct fuse_ctx, uid); OFF(struct fuse_ctx, gid); OFF(struct fuse_ctx, pid); OFF(struct fuse_ctx, umask);
  SIZE(struct fuse_forget_data); OFF(struct fuse_forget_data, ino); OFF(struct fuse_forget_data, nlookup);
  SIZE(struct statvfs); OFF(struct statvfs, f_bsize); OFF(struct statvfs, f_frsize); OFF(struct statvfs, f_blocks); OFF(struct statvfs, f_bfree);
  OFF(struct statvfs, f_bavail); OFF(struct statvfs, f_files); OFF(struct statvfs, f_ffree); OFF(struct statvfs, f_favail); OFF(struct statvfs, f_fsid);
  OFF(struct statvfs, f_flag); OFF(struct statvfs, f_namemax);
  SIZE(struct fuse_lowlevel_ops);
  OP(init); OP(destroy); OP(lookup); OP(forget); OP(getattr); OP(setattr); OP(readlink); OP(mknod); OP(mkdir); OP(unlink); OP(rmdir);
  OP(symlink); OP(rename); OP(link); OP(open); OP(read); OP(write); OP(flush); OP(release); OP(fsync); OP(opendir); OP(readdir);
  OP(releasedir); OP(fsyncdir); OP(statfs); OP(setxattr); OP(getxattr); OP(listxattr); OP(removexattr); OP(access); OP(create);
  OP(getlk); OP(setlk); OP(bmap); OP(ioctl); OP(poll); OP(write_buf); OP(retrieve_reply); OP(forget_multi); OP(flock); OP(fallocate);
  OP(readdirplus); OP(copy_file_range); OP(lseek);
  printf("const FUSE_CAP_ASYNC_READ %u\nconst FUSE_CAP_ATOMIC_O_TRUNC %u\nconst FUSE_CAP_EXPORT_SUPPORT %u\nconst FUSE_CAP_AUTO_INVAL_DATA %u\n",
         FUSE_CAP_ASYNC_READ, FUSE_CAP_ATOMIC_O_TRUNC, FUSE_CAP_EXPORT_SUPPORT, FUSE_CAP_AUTO_INVAL_DATA);
  printf("const FUSE_CAP_READDIRPLUS %u\nconst FUSE_CAP_READDIRPLUS_AUTO %u\nconst FUSE_CAP_ASYNC_DIO %u\nconst FUSE_CAP_WRITEBACK_CACHE %u\nconst FUSE_CAP_PARALLEL_DIROPS %u\n",
         FUSE_CAP_READDIRPLUS, FUSE_CAP_READDIRPLUS_AUTO, FUSE_CAP_ASYNC_DIO, FUSE_CAP_WRITEBACK_CACHE, FUSE_CAP_PARALLEL_DIROPS);
  printf("const FUSE_SET_ATTR_MODE %d\nconst FUSE_SET_ATTR_UID %d\nconst FUSE_SET_ATTR_GID %d\nconst FUSE_SET_ATTR_SIZE %d\nconst FUSE_SET_ATTR_ATIME %d\nconst FUSE_SET_ATTR_MTIME %d\nconst FUSE_SET_ATTR_ATIME_NOW %d\nconst FUSE_SET_ATTR_MTIME_NOW %d\n",
         FUSE_SET_ATTR_MODE, FUSE_SET_ATTR_UID, FUSE_SET_ATTR_GID, FUSE_SET_ATTR_SIZE, FUSE_SET_ATTR_ATIME, FUSE_SET_ATTR_MTIME, FUSE_SET_ATTR_ATIME_NOW, FUSE_SET_ATTR_MTIME_NOW);
  return 0;
}
