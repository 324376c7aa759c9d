# Sourced by the benchmark scripts that repeat gaussian-bench runs (bench-sweep.sh, bench-ab.sh).
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
