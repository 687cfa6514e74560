# Services across nodes: a VIP's backends on both nodes, reached from either node's pods
# (the client's node translates, the overlay carries the translated packet, the replies
# come back through the tunnel and are translated back to the VIP).

test_a_service_spreads_over_backends_on_both_nodes() {
  local vip vip6 names
  test_ns msvc
  agnhost_pod msvc b1 1
  agnhost_pod msvc b2 2
  agnhost_pod msvc c1 1
  agnhost_pod msvc c2 2
  kubectl -n msvc label pod b1 b2 role=backend >/dev/null
  kubectl apply -f - >/dev/null <<EOF2
apiVersion: v1
kind: Service
metadata: {name: web, namespace: msvc}
spec:
  ipFamilyPolicy: PreferDualStack
  selector: {role: backend}
  ports:
  - {name: http, port: 8080, protocol: TCP}
  - {name: udp, port: 8081, protocol: UDP}
EOF2
  wait_pods msvc 300 b1 b2 c1 c2
  vip=$(service_ip msvc web 0); vip6=$(service_ip msvc web 1)
  wait_endpoints msvc web 2 60
  # From node 1: 16 new connections reach both backends (b2 through the tunnel)
  names=$(for i in $(seq 16); do dial msvc c1 "$vip" http; done | sort | uniq -c)
  echo "$names" | grep -qw b1 && echo "$names" | grep -qw b2 \
    || fail "16 connections from c1 to $vip: $(echo $names)"
  echo "    c1 (node 1) -> $vip:8080: $(echo $names)"
  [ "$(echo "$names" | awk '{print $2}' | grep -cv '^b[12]$')" = 0 ] || fail "answers from others: $(echo $names)"
  case $(dial msvc c1 "$vip" udp) in b1|b2) ;; *) fail "UDP c1 -> $vip:8081 got no backend's answer" ;; esac
  case $(dial msvc c1 "$vip6" http) in b1|b2) ;; *) fail "TCP c1 -> [$vip6]:8080 got no backend's answer" ;; esac
  # From node 2, through its own agent's translation
  names=$(on_node 2 "for i in \$(seq 16); do dial msvc c2 $vip http; done | sort | uniq -c")
  echo "$names" | grep -qw b1 && echo "$names" | grep -qw b2 \
    || fail "16 connections from c2 to $vip: $(echo $names)"
  echo "    c2 (node 2) -> $vip:8080: $(echo $names)"
  case $(on_node 2 "dial msvc c2 $vip6 udp") in b1|b2) ;; *) fail "UDP c2 -> [$vip6]:8081 got no backend's answer" ;; esac
}
