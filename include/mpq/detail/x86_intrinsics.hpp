// The x86 intrinsic headers, read once for all of mpq with two GCC warnings off.
//
// GCC 12 declares its "undefined" vectors as `__m512i __Y = __Y;` inside the AVX and AVX-512
// intrinsic headers and, once such an intrinsic is inlined into optimised code, reports that
// line under -Wuninitialized / -Wmaybe-uninitialized (GCC bug 105593, fixed in GCC 13).
// A warning located in a header follows the diagnostic state in force where the header was
// read, so every mpq header reaches <immintrin.h> through this one and a consumer building
// with -Wall -Werror at -O2 or -O3 compiles mpq cleanly. (A consumer that includes
// <immintrin.h> itself before any mpq header fixes that state for its whole unit.)
#pragma once

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__) || defined(_M_IX86)
#define MPQ_HAVE_X86_INTRINSICS 1
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#else
#define MPQ_HAVE_X86_INTRINSICS 0
#endif
