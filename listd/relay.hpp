// relay.hpp - relay.mode = smarthost | mx: the SMTP transport behind DeliveryRunner.
//
// DeliveryRunner (delivery.hpp) hands SmtpTransport a wave of up to relay.connections x
// relay.max_recipients due recipients of one job; the transport cuts it into transactions
// (plan_transactions: by destination domain in MX mode, at most max_recipients each, one per
// recipient with VERP), runs them over a pool of at most relay.connections connections
// (relay.per_destination to one destination), reused across waves with RSET, and returns one
// outcome per recipient; the runner commits the wave. The message is rendered to wire form
// once per job (smtp/wire.hpp). A destination that cannot be reached defers (or, for a
// permanent DNS/5xx answer, fails) all its recipients of the wave. See docs/relay.md.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "listd/config.hpp"
#include "listd/delivery.hpp"

namespace listd {

struct PlannedTransaction {
  std::string domain;              // destination key: lower-case domain (MX), "" (smarthost)
  std::string envelope_from;       // the job's sender, or its VERP form
  std::vector<std::size_t> rcpts;  // indexes into the wave
};

// plan_transactions - group `wave` (in order of first appearance) by domain when by_domain,
// cut each group into chunks of at most max_rcpts; with verp, one transaction per recipient.
std::vector<PlannedTransaction> plan_transactions(const std::vector<JobRecipient>& wave,
                                                  const std::string& envelope_from, unsigned max_rcpts, bool by_domain,
                                                  bool verp);

// verp_sender - "list-bounces@host" + "user@domain" -> "list-bounces+user=domain@host".
std::string verp_sender(const std::string& envelope_from, const std::string& rcpt);

class SmtpTransport : public Transport {
 public:
  explicit SmtpTransport(const Config& cfg);
  ~SmtpTransport() override;
  std::size_t batch_limit() const override;
  void pass_done() override;  // QUIT every pooled connection
  std::vector<RecipientOutcome> deliver(const JobInfo& job, const std::string& message,
                                        const std::vector<JobRecipient>& batch) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace listd
