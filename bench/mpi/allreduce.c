/* The reference for Candor's allreduce bandwidth: plain MPI_Allreduce (float32, sum, in place) on each size, timed
 * the way bench/mpi-allreduce.ts times Candor's (barrier, then one call; median over repeats; the slowest rank's
 * median). Usage: mpirun -np P allreduce MIN_BYTES MAX_BYTES FACTOR BUDGET_SECONDS WARMUP.
 * Rank 0 prints one line: BENCH-RESULT {"sizes":[{"bytes":B,"seconds":S,"repeats":R},...]}. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void* a, const void* b) {
  double x = *(const double*)a, y = *(const double*)b;
  return x < y ? -1 : x > y;
}

/* One timed call: every rank starts together (barrier), each times its own call. */
static double once(float* buf, int count) {
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  MPI_Allreduce(MPI_IN_PLACE, buf, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  return MPI_Wtime() - t0;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (argc < 6) {
    if (rank == 0) fprintf(stderr, "usage: allreduce MIN_BYTES MAX_BYTES FACTOR BUDGET_SECONDS WARMUP\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  long min = atol(argv[1]), max = atol(argv[2]), factor = atol(argv[3]);
  double budget = atof(argv[4]);
  int warmup = atoi(argv[5]);
  float* buf = malloc(max);
  double* runs = malloc(sizeof(double) * 10000);
  if (!buf || !runs || factor < 2) MPI_Abort(MPI_COMM_WORLD, 3);
  if (rank == 0) printf("BENCH-RESULT {\"sizes\":[");
  for (long bytes = min; bytes <= max; bytes *= factor) {
    int count = (int)(bytes / 4);
    for (int i = 0; i < count; i++) buf[i] = 1.0f;
    /* Warm-up (at least one call); the repeats come from rank 0's last warm-up call, broadcast so that every rank
     * makes the same number of calls. */
    double last = once(buf, count);
    for (int i = 1; i < warmup; i++) last = once(buf, count);
    int repeats = last > 0 ? (int)(budget / last) : 1000;
    repeats = repeats < 1 ? 1 : repeats > 10000 ? 10000 : repeats;
    MPI_Bcast(&repeats, 1, MPI_INT, 0, MPI_COMM_WORLD);
    for (int i = 0; i < repeats; i++) runs[i] = once(buf, count);
    qsort(runs, repeats, sizeof(double), compare);
    double median = runs[repeats / 2], slowest;
    MPI_Reduce(&median, &slowest, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
    if (rank == 0)
      printf("%s{\"bytes\":%ld,\"seconds\":%.9g,\"repeats\":%d}", bytes == min ? "" : ",", bytes, slowest, repeats);
  }
  if (rank == 0) printf("]}\n");
  free(buf);
  free(runs);
  MPI_Finalize();
  return 0;
}
