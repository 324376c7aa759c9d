# Sourced by the benchmark scripts: medians of gaussian-bench runs (bench-sweep.sh, bench-ab.sh),
# and of timed whole processes (bench-zarr.sh, bench-stats.sh).
#
# median_of_runs FILE...: the cell lines (`DS CS load 3D 3x1D delete |3D-3x1D| |3D-ref|`) of
# gaussian-bench's printed tables in FILE..., one line per cell: DS CS, the median over the files
# of each of the four timing columns, and the last file's two verification columns; sorted by
# DS, CS.
median_of_runs() {
  cat "$@" | awk '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/' | sort -k1,1n -k2,2n | awk '
    function median(list,   n, v, i, j, t) {
      n = split(list, v, " ")
      for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (v[j] + 0 < v[i] + 0) { t = v[i]; v[i] = v[j]; v[j] = t }
      return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    { key = $1 " " $2; keys[key] = 1; for (c = 3; c <= 6; c++) col[key, c] = col[key, c] " " $c; last[key] = $7 " " $8 }
    END { for (key in keys) { printf "%s", key; for (c = 3; c <= 6; c++) printf " %s", median(col[key, c]); print " " last[key] } }
  ' | sort -k1,1n -k2,2n
}

# median_of_lines: the median of the numbers on stdin, one per line.
median_of_lines() {
  sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'
}

# seconds_of COMMAND...: the wall-clock seconds of a whole process (its output dropped; its
# errors shown and the status returned when it fails).
seconds_of() {
  local start end err
  err=$(mktemp)
  start=$(date +%s.%N)
  "$@" >/dev/null 2>"$err" || { cat "$err" >&2; rm -f "$err"; return 1; }
  end=$(date +%s.%N)
  rm -f "$err"
  echo "$end - $start" | bc -l
}
